from deepperformer.cli import main

raise SystemExit(main())
