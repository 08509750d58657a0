import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["_supervise"]:
        # The session supervisor: straight to it, without the CLI (see session/daemon.py).
        from coi.session.daemon import supervise_main

        sys.exit(supervise_main(sys.argv[2:]))
    from coi.cli.main import main

    main()
