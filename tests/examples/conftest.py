"""The Keras programs in ``keras_programs/`` are run by ``test_keras_programs.py`` in a temporary folder; with
``--doctest-modules`` pytest would otherwise import (that is, run) them while collecting, writing their files
(``custom_cell.keras``, ``training.csv`` ...) into the current directory."""
collect_ignore = ["keras_programs"]
