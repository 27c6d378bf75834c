from consortium.cli.main import main

raise SystemExit(main())
