"""KickSpace core: catalogues, models, training, bundles and latent-space maths.

Importable without Streamlit; the app's pages call into this package.
"""
__version__ = "0.1.0"
