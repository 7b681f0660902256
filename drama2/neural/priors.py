"""A penalty that pulls an autoencoder's codes towards a standard normal distribution.

An unregularised autoencoder may place a compact group of anomalies far away
from everything else in its latent space. DRAMA then gives that group a
cluster, and a prototype, of its own, and the anomalies score as normal. A
VAE avoids this through its KL term. The deterministic equivalent used here
is the sliced-Wasserstein autoencoder (Kolouri, Pope, Martin & Rohde, ICLR
2019): the loss adds the squared 2-Wasserstein distance between the batch's
codes and N(0, I), averaged over random 1-D projections. In one dimension
that distance has a closed form: sort the projected codes and compare them
with the normal distribution's quantiles at the same ranks.

Only the central ranks are compared. The few codes in each tail of a
projection are where rare, outlying rows sit, and matching them to the
normal's extreme quantiles would pull exactly those rows in towards the bulk
and erase the outlyingness DRAMA scores. Leaving out a small share of each
tail (:data:`TAIL_SHARE`, matched to the engine's default smallest leaf)
regularises the shape of the bulk and leaves groups smaller than that free.
"""

from __future__ import annotations

import math

__all__ = ["N_PROJECTIONS", "TAIL_SHARE", "sliced_wasserstein_to_normal"]

#: Random directions per batch; enough for a stable estimate in the small latent spaces DRAMA uses.
N_PROJECTIONS = 50

#: Share of the ranks at each end of a projection left out of the comparison (5 %, like ``Drama``'s
#: default ``min_leaf_size``: a group smaller than a leaf may stay as far out as the data puts it).
TAIL_SHARE = 0.05


def sliced_wasserstein_to_normal(codes, generator, n_projections: int = N_PROJECTIONS,
                                 tail_share: float = TAIL_SHARE):
    """Mean squared sliced 2-Wasserstein distance between the central ranks of a batch of codes and N(0, I).

    Parameters
    ----------
    codes : torch.Tensor of shape (batch, k)
    generator : torch.Generator
        Draws the projection directions; on the device of ``codes``.
    n_projections : int
        Random unit directions to project on.
    tail_share : float in [0, 0.5)
        Share of the ranks at each end of every projection that is not compared (the ranks ``i`` with
        ``(i + ½) / batch`` below ``tail_share`` or above ``1 - tail_share``); 0 compares them all, the
        plain sliced Wasserstein distance.

    Returns
    -------
    torch.Tensor
        A scalar: over the directions and the compared ranks, the mean squared difference between the
        sorted projected codes and the standard normal quantiles ``Φ⁻¹((i + ½) / batch)``.
    """
    import torch

    if not 0 <= tail_share < 0.5:
        raise ValueError(f"tail_share must be in [0, 0.5), got {tail_share!r}.")
    batch, k = codes.shape
    directions = torch.randn(n_projections, k, generator=generator, device=codes.device, dtype=codes.dtype)
    directions = directions / directions.norm(dim=1, keepdim=True)
    projected = torch.sort(codes @ directions.T, dim=0).values
    ranks = torch.arange(batch, device=codes.device, dtype=codes.dtype)
    quantiles = torch.special.ndtri((ranks + 0.5) / batch)
    cut = max(0, math.ceil(tail_share * batch - 0.5))  # ranks i with i + ½ < tail_share · batch, at each end
    if cut:
        projected, quantiles = projected[cut:batch - cut], quantiles[cut:batch - cut]
    return (projected - quantiles[:, None]).pow(2).mean()
