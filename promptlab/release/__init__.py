"""From a winning variant to production: labels and their audit log (``labels.py``, ``audit.py``),
prompt diffs (``diff.py``), prompt files and ``load_prompt`` (``prompt_files.py``), exports
(``export.py``), fine-tuning and preference sets (``finetune.py``, ``preferences.py``), the HTML
report (``report.py``) and JUnit XML (``junit.py``)."""
