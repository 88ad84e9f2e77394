from glm5check.entry import main

main()
