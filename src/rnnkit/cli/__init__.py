"""The ``rnnkit`` command line tool (see ``rnnkit --help``)."""
