"""Metrics of a latent space, one per file, each a function of plain arrays.

Following disentanglement_lib: a metric takes ``codes`` [N, D] (latent means) and ``factors``
[N, K] (ground-truth factor values) and, where it draws a split or anything else at random, an
explicit ``random_state`` (int or np.random.Generator); it returns a dict of named floats (and
per-factor / per-dimension lists). Factor columns with at most 20 distinct values are classes;
others are cut into 20 quantile bins inside each metric. MIG, SAP, DCI and modularity also
take the matrix they reduce (``mig_from_mi``, ``sap_from_scores``, ``scores_from_importance``,
``modularity_from_mi``), where disentanglement_lib's known answers are checked.

=================  ===========================================================================
mig                mutual information gap (Chen et al. 2018)
sap                separated attribute predictability (Kumar et al. 2018), linear-SVM scores
dci                disentanglement / completeness / informativeness (Eastwood & Williams 2018)
modularity         modularity and explicitness (Ridgeway & Mozer 2018)
utils              input checks, the split, discretising, entropies and mutual information
information        KL per dimension, active units, the order of dimensions by use
knn                k-NN accuracy of attributes from embeddings, majority baseline
association        per-dimension association with metadata, suggested dimension names
colour             colour fidelity of reconstructions (1 = hues kept, 0 = grey)
sharpness          edge energy of reconstructions relative to their originals
=================  ===========================================================================
"""
from __future__ import annotations

from explorer.metrics.association import dimension_associations, suggest_names
from explorer.metrics.colour import colour_fidelity
from explorer.metrics.dci import dci
from explorer.metrics.information import (active_units, active_units_variance, count_active,
                                          dimension_order, is_deterministic, kl_per_dim,
                                          variance_of_means)
from explorer.metrics.knn import (knn_accuracies, knn_accuracy, label_columns,
                                  majority_baseline, score_columns)
from explorer.metrics.mig import mig
from explorer.metrics.utils import discretize_factors
from explorer.metrics.modularity import explicitness, modularity
from explorer.metrics.sap import sap

__all__ = ["active_units", "active_units_variance", "colour_fidelity", "count_active", "dci",
           "dimension_associations", "dimension_order", "discretize_factors", "explicitness",
           "is_deterministic", "kl_per_dim", "knn_accuracies", "knn_accuracy", "label_columns",
           "majority_baseline", "mig", "modularity", "sap", "score_columns", "suggest_names",
           "variance_of_means"]
