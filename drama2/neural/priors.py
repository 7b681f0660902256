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
"""

from __future__ import annotations

__all__ = ["N_PROJECTIONS", "sliced_wasserstein_to_normal"]

#: Random directions per batch; enough for a stable estimate in the small latent spaces DRAMA uses.
N_PROJECTIONS = 50


def sliced_wasserstein_to_normal(codes, generator, n_projections: int = N_PROJECTIONS):
    """Mean squared sliced 2-Wasserstein distance between a batch of codes and N(0, I).

    Parameters
    ----------
    codes : torch.Tensor of shape (batch, k)
    generator : torch.Generator
        Draws the projection directions; on the device of ``codes``.
    n_projections : int
        Random unit directions to project on.

    Returns
    -------
    torch.Tensor
        A scalar: over the directions and ranks, the mean squared difference between the sorted projected
        codes and the standard normal quantiles ``Φ⁻¹((i - ½) / batch)``.
    """
    import torch

    batch, k = codes.shape
    directions = torch.randn(n_projections, k, generator=generator, device=codes.device, dtype=codes.dtype)
    directions = directions / directions.norm(dim=1, keepdim=True)
    projected = torch.sort(codes @ directions.T, dim=0).values
    ranks = torch.arange(batch, device=codes.device, dtype=codes.dtype)
    quantiles = torch.special.ndtri((ranks + 0.5) / batch)
    return (projected - quantiles[:, None]).pow(2).mean()
