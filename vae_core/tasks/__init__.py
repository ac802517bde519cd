"""What a VAE is used for, each next to the classic method on the same data: generate, restore, compress, analyze.

Every task function returns a :class:`vae_core.tasks.results.TaskResult`: for each method
(the VAE and each classic baseline), its output and its metrics, measured the same way. The
app renders any such result with one helper (``pages/shared/compare_view.py``), and a notebook
gets the same comparison as the app.
"""
