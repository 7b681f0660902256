"""Network builders for the neural reducers and scorers: dense and convolutional encoders and decoders.

Every network here takes and returns *flat* rows ``(batch, n_features)``;
the convolutional ones reshape to ``(batch, channels, *spatial)`` inside, so
the training loop and DRAMA's prototypes only ever see data-space rows.
Latent and output layers are linear (no activation), as an autoencoder that
must reproduce standardised data and a latent space to be clustered need.
"""

from __future__ import annotations

import math

from torch import nn

from drama2.errors import InvalidInputError

ACTIVATIONS = {"elu": nn.ELU, "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh, "relu": nn.ReLU,
               "leaky_relu": nn.LeakyReLU}


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]()
    except (KeyError, TypeError):
        raise InvalidInputError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.") from None


def mlp(sizes: list[int], act: str, *, last_activation: bool = False) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``act`` between them (and after the last if asked)."""
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if k < len(sizes) - 2 or last_activation:
            layers.append(activation(act))
    return nn.Sequential(*layers)


class LinearPlusResidual(nn.Module):
    """``linear(x) + residual(x)``: a linear map with a non-linear correction beside it.

    With the linear parts set to PCA's projection and reconstruction and the
    residuals' last layers set to zero, an autoencoder built from two of these
    *starts* at the PCA solution, and training can only move it to a lower
    reconstruction loss.
    """

    def __init__(self, linear: nn.Linear, residual: nn.Sequential):
        super().__init__()
        self.linear = linear
        self.residual = residual

    def forward(self, x):
        return self.linear(x) + self.residual(x)


class AutoEncoderNet(nn.Module):
    """An encoder and a decoder; ``forward`` reconstructs."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


class VariationalNet(nn.Module):
    """A VAE: a shared encoder body, Gaussian posterior heads, and a decoder.

    :meth:`encode` returns the posterior *mean*, the deterministic code a
    reducer needs (the original DRAMA encoded a random sample instead).
    """

    def __init__(self, body: nn.Module, body_features: int, n_latent: int, decoder: nn.Module,
                 skip: nn.Linear | None = None):
        super().__init__()
        self.body = body
        self.mean = nn.Linear(body_features, n_latent)
        self.log_var = nn.Linear(body_features, n_latent)
        self.decoder = decoder
        self.skip = skip  # an optional linear path from the input to the posterior mean

    def posterior(self, x):
        h = self.body(x)
        mean = self.mean(h) if self.skip is None else self.mean(h) + self.skip(x)
        # Clamped so exp() stays finite while training is still far from a good fit.
        return mean, self.log_var(h).clamp(-30.0, 20.0)

    def encode(self, x):
        return self.posterior(x)[0]

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


# ------------------------------------------------------------------------- convolutional parts
_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_DECONV = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d}


def conv_stage_sizes(spatial: tuple, n_stages: int) -> list[tuple]:
    """Spatial sizes after each stride-2 stage (``ceil(s / 2)``), starting with the input's."""
    sizes = [tuple(spatial)]
    for _ in range(n_stages):
        sizes.append(tuple(math.ceil(s / 2) for s in sizes[-1]))
    return sizes


class ConvEncoderBody(nn.Module):
    """Stride-2 convolutions over ``(channels, *spatial)`` samples given as flat rows; returns flat features."""

    def __init__(self, sample_shape: tuple, channels: tuple, kernel_size: int, act: str):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        dims = len(sample_shape) - 1
        layers, previous = [], sample_shape[0]
        for c in channels:
            layers += [_CONV[dims](previous, c, kernel_size, stride=2, padding=kernel_size // 2), activation(act)]
            previous = c
        self.convs = nn.Sequential(*layers)
        self.sizes = conv_stage_sizes(sample_shape[1:], len(channels))
        self.out_features = channels[-1] * math.prod(self.sizes[-1])

    def forward(self, x):
        return self.convs(x.reshape(-1, *self.sample_shape)).flatten(1)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoderBody`: linear, then stride-2 transposed convolutions cropped to each size.

    A transposed convolution doubles the size; cropping to the encoder's
    recorded sizes makes any input length or image size decode exactly.
    """

    def __init__(self, n_latent: int, sample_shape: tuple, channels: tuple, kernel_size: int, act: str):
        super().__init__()
        dims = len(sample_shape) - 1
        self.sizes = conv_stage_sizes(sample_shape[1:], len(channels))
        self.channels = tuple(channels)
        self.linear = nn.Linear(n_latent, channels[-1] * math.prod(self.sizes[-1]))
        self.act = activation(act)
        outs = list(reversed((sample_shape[0], *channels[:-1])))
        ins = list(reversed(channels))
        self.ups = nn.ModuleList(
            _DECONV[dims](i, o, kernel_size, stride=2, padding=kernel_size // 2, output_padding=1)
            for i, o in zip(ins, outs))

    def forward(self, z):
        h = self.act(self.linear(z)).reshape(-1, self.channels[-1], *self.sizes[-1])
        for k, up in enumerate(self.ups):
            target = self.sizes[-2 - k]
            h = up(h)[(..., *(slice(0, s) for s in target))]
            if k < len(self.ups) - 1:
                h = self.act(h)
        return h.flatten(1)


def check_hidden_sizes(value, name: str = "hidden_sizes") -> tuple:
    """A tuple of positive ints, or an error naming the parameter."""
    try:
        sizes = tuple(int(v) for v in value)
        ok = all(v >= 1 for v in sizes) and all(float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidInputError(f"{name} must be a sequence of positive integers, got {value!r}.")
    return sizes


__all__ = ["ACTIVATIONS", "AutoEncoderNet", "LinearPlusResidual", "VariationalNet", "ConvEncoderBody", "ConvDecoder", "activation", "mlp",
           "conv_stage_sizes", "check_hidden_sizes"]
