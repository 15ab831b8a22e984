package lanhai.sql;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.spec.KeySpec;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * HiveServer2's CUSTOM authentication for the SQL endpoint (hive.server2.authentication=CUSTOM):
 * a login is accepted when the users file ($LANHAI_SQL_USERS, written by `lanhai sql-server
 * user`, mode 0600) holds the user's PBKDF2-HMAC-SHA256 hash of the password given.
 *
 * <p>Each line: {@code name:iterations:salt-hex:hash-hex}. The file is read at every login, so
 * adding a user or changing a password needs no restart. Anonymous and empty logins are refused;
 * the error never says whether the user or the password was wrong.
 */
public class PasswordFile implements PasswdAuthenticationProvider {
  static final String ENV = "LANHAI_SQL_USERS";

  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    if (user == null || user.isEmpty() || password == null || password.isEmpty()) {
      throw new AuthenticationException("a user name and a password are required");
    }
    String file = System.getenv(ENV);
    if (file == null || file.isEmpty()) {
      throw new AuthenticationException("the SQL endpoint has no users file ($" + ENV + ")");
    }
    List<String> lines;
    try {
      lines = Files.readAllLines(Path.of(file), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new AuthenticationException("cannot read the users file " + file, e);
    }
    for (String line : lines) {
      String[] f = line.trim().split(":");
      if (f.length == 4 && f[0].equals(user) && matches(password, f)) {
        return;
      }
    }
    throw new AuthenticationException("wrong user name or password");
  }

  private static boolean matches(String password, String[] f) throws AuthenticationException {
    try {
      HexFormat hex = HexFormat.of();
      byte[] want = hex.parseHex(f[3]);
      KeySpec spec = new PBEKeySpec(password.toCharArray(), hex.parseHex(f[2]),
          Integer.parseInt(f[1]), want.length * 8);
      byte[] got = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
          .generateSecret(spec).getEncoded();
      return MessageDigest.isEqual(want, got);
    } catch (Exception e) {
      throw new AuthenticationException("a malformed line in the users file", e);
    }
  }
}
