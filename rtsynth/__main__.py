from rtsynth.cli import main

raise SystemExit(main())
