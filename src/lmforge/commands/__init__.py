"""One module per CLI command group; each command is a thin call into its stage."""
