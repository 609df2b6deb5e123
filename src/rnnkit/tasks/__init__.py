"""Applications of recurrent networks, one module per task, all in one layout.

Each task module (``charlm``, ``sentiment``, ``translate``, ``ocr``, ``speech``, ``forecast``) holds:

- a config dataclass (``CharLMConfig`` ...) whose fields are the task's command-line flags
  (``rnnkit.cli.config_flags`` turns them into argparse options, help text from each field's metadata);
- ``load_data(config)``, ``build_model(config, ...)``, ``train(config, resume=False) -> dict`` and the baseline
  the task is always reported beside;
- the use of a trained model (``sample``, ``predict``, ``translate``, ``read``, ``transcribe``).

They share these helpers, so that no task reinvents them:

- ``rnnkit.tasks.report``: ``report.json`` (atomic), the headline line ``name=value ...``, plots (training
  curves, heat maps) written only where matplotlib is installed;
- ``rnnkit.tasks.artifacts``: ``model.rnnkit`` files that also carry what inference needs (vocabularies,
  scalers) in a ``task.json`` member;
- ``rnnkit.tasks.runs``: output folders, checkpoints after every epoch, ``--resume``, Ctrl-C and non-finite
  losses, as ``rnnkit train`` has them;
- ``rnnkit.tasks.files``: reading the text files users give, with one-line errors.

Every ``rnnkit <task> train`` writes ``DIR/model.rnnkit``, ``DIR/report.json`` and its plots, and prints its
headline metrics as its last line.
"""
