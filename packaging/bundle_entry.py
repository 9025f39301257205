"""Entry point of the desktop bundle: the frozen executable stands in for ``python``.

The window starts its helpers as ``sys.executable -m inspector_app ...`` (demo preparation, training) and
``sys.executable -c CODE`` (the device probe). In the bundle ``sys.executable`` is this program, so those two
forms are understood here and the app's code needs no frozen-only branch.
"""

import sys


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["-c"] and len(args) >= 2:
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the app's own code
        return 0
    if args[:2] == ["-m", "inspector_app"]:
        args = args[2:]
    from inspector_app.cli import main as cli_main  # noqa: PLC0415

    return cli_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
