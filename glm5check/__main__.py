from glm5check.cli import main

main()
