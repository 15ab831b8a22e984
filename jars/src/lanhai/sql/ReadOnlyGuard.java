package lanhai.sql;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;
import scala.Function1;
import scala.Option;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The SQL endpoint's read-only guard, a Spark session extension
 * ({@code spark.sql.extensions=...,lanhai.sql.ReadOnlyGuard}): after analysis, every statement
 * of every session is checked, and refused with an error that names what it tried, unless
 *
 * <ul>
 *   <li>every table or view it reads, and every table such a view reads, is in a readable
 *       database ({@code spark.lanhai.sql.readable}, a comma list fixed when the server starts;
 *       analysts: the marts, where dbt builds tables only);
 *   <li>it is a query or one of the harmless commands (SET, USE, SHOW, DESCRIBE): no write, DDL,
 *       cache, ADD JAR, function, EXPLAIN (its inner query is not analysed yet);
 *   <li>it calls no Java method by reflection ({@code reflect}, {@code java_method}) and runs no
 *       script ({@code SELECT TRANSFORM ... USING}).
 * </ul>
 *
 * Reads by path ({@code delta.`/lake/...`}) are impossible while {@code spark.sql.runSQLOnFiles}
 * is false, which the endpoint sets; a session that turns it on gets every statement refused.
 * Unnamed relations (Delta reading its own log) are therefore allowed.
 */
public class ReadOnlyGuard extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  public static final String READABLE = "spark.lanhai.sql.readable";

  static final Set<String> COMMANDS = new TreeSet<>(Arrays.asList(
      "SetCommand", "ResetCommand", "SetCatalogAndNamespace", "SetNamespaceCommand",
      "ShowNamespaces", "ShowNamespacesCommand", "ShowTables", "ShowTablesCommand",
      "ShowTableExtended", "ShowViews", "ShowViewsCommand", "ShowColumns", "ShowColumnsCommand",
      "ShowFunctions", "ShowFunctionsCommand", "DescribeRelation", "DescribeTableCommand",
      "DescribeColumn", "DescribeColumnCommand", "DescribeNamespace",
      "DescribeDatabaseCommand", "DescribeFunction", "DescribeFunctionCommand",
      "ShowCurrentNamespace", "ShowCurrentNamespaceCommand", "ShowCatalogs",
      "ShowCatalogsCommand", "ShowTablePropertiesCommand", "ShowTableProperties"));

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectCheckRule(new AbstractFunction1<SparkSession,
        Function1<LogicalPlan, BoxedUnit>>() {
      @Override
      public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
        return new Check(session);
      }
    });
    return BoxedUnit.UNIT;
  }

  /**
   * Check one analysed plan as the endpoint would with {@code readable} databases (a comma
   * list): throws a SecurityException naming what is refused. For tests, from any session.
   */
  public static void check(SparkSession session, LogicalPlan plan, String readable) {
    new Check(session, readable).apply(plan);
  }

  static final class Check extends AbstractFunction1<LogicalPlan, BoxedUnit> {
    private final SparkSession session;
    private final Set<String> readable = new TreeSet<>();

    Check(SparkSession session) {
      this(session, session.sparkContext().getConf().get(READABLE, ""));
    }

    Check(SparkSession session, String list) {
      this.session = session;
      for (String db : list.split(",")) {
        if (!db.isBlank()) {
          readable.add(db.trim().toLowerCase(Locale.ROOT));
        }
      }
    }

    @Override
    public BoxedUnit apply(LogicalPlan plan) {
      if (session.sessionState().conf().runSQLonFile()) {
        refuse("spark.sql.runSQLOnFiles is on in this session: reads by path are not allowed "
            + "here (RESET it)");
      }
      if (plan instanceof Command && !COMMANDS.contains(plan.nodeName())) {
        refuse(plan.nodeName() + ": this endpoint is read-only (queries, SET, USE, SHOW and "
            + "DESCRIBE only)");
      }
      walk(plan);
      return BoxedUnit.UNIT;
    }

    private void walk(LogicalPlan plan) {
      if (plan instanceof View view) {
        if (!view.isTempView()) {
          table(view.desc());  // and what it reads is checked below like a query's tables
        }
      } else if (plan instanceof LogicalRelation rel) {
        Option<CatalogTable> table = rel.catalogTable();
        if (table.isDefined()) {
          table(table.get());
        }
      } else if (plan instanceof DataSourceV2Relation rel) {
        Option<Identifier> id = rel.identifier();
        if (id.isDefined()) {
          String[] ns = id.get().namespace();
          database(ns.length == 0 ? "" : ns[ns.length - 1], id.get().toString());
        }
      } else if (plan instanceof HiveTableRelation rel) {
        table(rel.tableMeta());
      } else if ("ScriptTransformation".equals(plan.nodeName())) {
        refuse("SELECT TRANSFORM runs a program on the server: not allowed here");
      }
      for (Expression e : CollectionConverters.asJava(plan.expressions())) {
        expression(e);
      }
      for (LogicalPlan child : CollectionConverters.asJava(plan.children())) {
        walk(child);
      }
      for (LogicalPlan sub : CollectionConverters.asJava(plan.subqueries())) {
        walk(sub);
      }
    }

    private void expression(Expression e) {
      String name = e.getClass().getSimpleName();
      if (name.equals("CallMethodViaReflection")) {
        refuse("reflect/java_method call Java methods on the server: not allowed here");
      }
      for (Expression child : CollectionConverters.asJava(e.children())) {
        expression(child);
      }
    }

    private void table(CatalogTable t) {
      Option<String> db = t.identifier().database();
      database(db.isDefined() ? db.get() : "", t.identifier().unquotedString());
    }

    private void database(String db, String what) {
      if (!readable.contains(db.toLowerCase(Locale.ROOT))) {
        refuse(what + " is not readable from this endpoint (readable databases: "
            + String.join(", ", readable) + ")");
      }
    }
  }

  static void refuse(String why) {
    throw new SecurityException("lanhai SQL endpoint: " + why);
  }
}
