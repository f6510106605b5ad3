"""Engine benchmark: lmforge vs transformers (and llama-cpp-python when installed).

    python bench/engine.py [--quick] [--threads N]     (same as `lmforge bench engine`)

The code lives in `lmforge.engine.bench` so the installed CLI can run it too.
"""

from lmforge.engine.bench import main

if __name__ == "__main__":
    main()
