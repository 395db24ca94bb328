"""Paris validator: proof-of-learning spot checks, useful-work scores and slashing evidence."""
