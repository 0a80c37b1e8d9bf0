from deepperformer.cli.main import main

raise SystemExit(main())
