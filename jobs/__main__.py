"""One entry point for every Spark job: `python -m lanhai.jobs <bronze|silver|ingest|retention>`."""

from __future__ import annotations

import argparse
import json

from lanhai.config import load_config
from lanhai.jobs import ingest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lanhai.jobs")
    parser.add_argument("job", choices=["bronze", "silver", "ingest", "retention"])
    parser.add_argument("--profile", default=None, help="conf/<profile>.yaml (default: local)")
    parser.add_argument("--entity", action="append", dest="entities",
                        help="only this entity (repeatable)")
    args = parser.parse_args(argv)
    config = load_config(args.profile)
    result = ingest.run_job(args.job, config, args.entities)
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
