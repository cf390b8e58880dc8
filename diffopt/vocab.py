"""The one table of each vocabulary: methods, modes and file options."""

METHODS = ("auto", "gd", "momentum", "adam", "bfgs", "lbfgs", "newton", "lm", "nelder-mead")
MODES = ("auto", "forward", "reverse")

# Options a .dop file may set (command-line flags override them).
OPTIONS = {
    "method": ("string", METHODS),
    "mode": ("string", MODES),
    "max_iter": ("integer", None),
    "tol": ("positive", None),
    "lr": ("positive", None),
}
