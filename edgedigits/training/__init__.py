"""MNIST -> .keras: the data, the architectures, the two training recipes, evaluation and plots."""
