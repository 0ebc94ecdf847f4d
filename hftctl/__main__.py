from hftctl.cli import main

main()
