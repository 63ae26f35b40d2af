"""Recurrent sequence autoencoder for windows of a time series: one sample is (T, F).

A recurrent layer reads a sequence x_1, ..., x_T step by step and carries a hidden state h_t
from one step to the next, so the same weights see every step. Training unrolls the loop over
the T steps and backpropagates through the unrolled graph ("backpropagation through time",
BPTT): the gradient of a weight is the sum of its gradients at every step, and it reaches step t
through the chain of Jacobians dh_T/dh_{T-1} ... dh_{t+1}/dh_t, which is why long sequences make
it vanish or explode.

The cells of :data:`CELLS`:

* Elman ("simple recurrent network"), with h_0 = 0::

      h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)
      y_t = W_hy h_t + b_y

* Jordan feeds the previous output back into the hidden units, with y_0 = 0::

      h_t = tanh(W_hh h_{t-1} + W_xh x_t + W_yh y_{t-1} + b_h)
      y_t = W_hy h_t + b_y

* LSTM (long short-term memory; input, forget and output gates around an additive cell state
  that lets gradients pass many steps) and GRU (gated recurrent unit; update and reset gates,
  no separate cell state), both from torch.

A bidirectional layer runs a second, independent layer over the time-reversed sequence and
concatenates the two outputs at every step (and the two final states).

The encoder f stacks recurrent layers and maps the last layer's final state (for Elman and
Jordan its last output y_T, a linear readout of h_T) to the code z. The decoder g is the classic
"repeat vector" sequence autoencoder: z is mapped to the first decoder width, the same vector is
fed as the input at each of the T steps, stacked recurrent layers in mirrored widths unfold it
into a sequence, and a per-step linear layer gives the F logits of each step; the output
activation turns them into x_hat = g(f(x)).

Estimators keep every sample as one flat row, so the modules take and return flat tensors
(B, T * F), time-major (step t holds entries t * F to (t + 1) * F - 1), and reshape inside; the
sample shape (T, F) lives in the config.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from aekit.models.dense import EncoderDecoder
from aekit.models.layers import ACTIVATIONS, CODE_ACTIVATIONS, init_linear, make_activation


@dataclass(frozen=True)
class RecurrentConfig:
    input_shape: tuple[int, int]  # one sample: (T, F), T steps of F features
    latent_dim: int  # width of the code z
    hidden: tuple[int, ...] = (64,)  # widths of the stacked recurrent layers; the decoder mirrors
    cell: str = "lstm"  # recurrent layer type: a key of CELLS
    bidirectional: bool = False  # also read every sequence backwards (doubles each layer's width)
    code_activation: str = "linear"  # applied to the code z
    output_activation: str = "linear"  # maps the decoder's logits to x_hat
    dropout: float = 0.0  # dropout probability between stacked recurrent layers

    def __post_init__(self) -> None:
        # Checked here rather than deep inside torch, whose messages name no parameter.
        shape = self.input_shape
        if not (
            isinstance(shape, tuple)
            and len(shape) == 2
            and all(isinstance(n, int) and n >= 1 for n in shape)
        ):
            raise ValueError(
                f"input_shape must be a tuple (T, F) of two positive integers, got {shape!r}"
            )
        if not (isinstance(self.latent_dim, int) and self.latent_dim >= 1):
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if not (
            isinstance(self.hidden, tuple)
            and self.hidden
            and all(isinstance(w, int) and w >= 1 for w in self.hidden)
        ):
            raise ValueError(
                f"hidden must be a tuple of at least one positive width, got {self.hidden!r}"
            )
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose one of {sorted(CELLS)}")
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"bidirectional must be True or False, got {self.bidirectional!r}")
        for name in ("code_activation", "output_activation"):
            known = CODE_ACTIVATIONS if name == "code_activation" else ACTIVATIONS
            if getattr(self, name) not in known:
                raise ValueError(
                    f"unknown {name} {getattr(self, name)!r}; choose one of {sorted(known)}"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


class ElmanRNN(nn.Module):
    """Elman network, batch-first: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), y_t = W_hy h_t + b_y.

    The state starts at h_0 = 0. Weights are drawn from U(-1/sqrt(H), 1/sqrt(H)) with H the
    hidden size, as in :class:`torch.nn.RNN`, which keeps the pre-activations of the first steps
    in the unsaturated range of tanh; biases start at zero.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        Widths of x_t, h_t and y_t.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import ElmanRNN
    >>> y, h = ElmanRNN(3, 8, 2)(torch.randn(4, 10, 3))
    >>> tuple(y.shape), tuple(h.shape)
    ((4, 10, 2), (4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.W_xh = nn.Parameter(torch.empty(hidden_size, input_size))
        self.W_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.b_h = nn.Parameter(torch.empty(hidden_size))
        self.W_hy = nn.Parameter(torch.empty(output_size, hidden_size))
        self.b_y = nn.Parameter(torch.empty(output_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights from U(-1/sqrt(H), 1/sqrt(H)), biases zero."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.startswith("W_"):
                    param.uniform_(-bound, bound)
                else:
                    param.zero_()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, input_size) -> (y (B, T, output_size), final state h_T (B, hidden_size))."""
        # The input term of every step in one matmul; only the recurrence needs the loop.
        drive = x @ self.W_xh.T + self.b_h  # (B, T, H)
        h = x.new_zeros(x.shape[0], self.hidden_size)  # (B, H) h_0
        states = []
        for t in range(x.shape[1]):
            h = torch.tanh(drive[:, t] + h @ self.W_hh.T)  # (B, H)
            states.append(h)
        # No feedback from y, so all outputs come from one matmul after the loop.
        y = torch.stack(states, dim=1) @ self.W_hy.T + self.b_y  # (B, T, O)
        return y, h


class JordanRNN(ElmanRNN):
    """Jordan network, batch-first: Elman's with the previous output fed back into the hidden
    units, h_t = tanh(W_hh h_{t-1} + W_xh x_t + W_yh y_{t-1} + b_h), y_t = W_hy h_t + b_y.

    Both h_0 and y_0 are zero. ``W_yh`` (hidden_size, output_size) is initialised like the other
    weights, from U(-1/sqrt(H), 1/sqrt(H)).

    Examples
    --------
    >>> import torch
    >>> from aekit.models import JordanRNN
    >>> y, h = JordanRNN(3, 8, 2)(torch.randn(4, 10, 3))
    >>> tuple(y.shape), tuple(h.shape)
    ((4, 10, 2), (4, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__(input_size, hidden_size, output_size)
        self.W_yh = nn.Parameter(torch.empty(hidden_size, output_size))
        self.reset_parameters()  # again, now that W_yh exists

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, input_size) -> (y (B, T, output_size), final state h_T (B, hidden_size))."""
        drive = x @ self.W_xh.T + self.b_h  # (B, T, H)
        h = x.new_zeros(x.shape[0], self.hidden_size)  # (B, H) h_0
        y = x.new_zeros(x.shape[0], self.output_size)  # (B, O) y_0
        outputs = []
        for t in range(x.shape[1]):
            h = torch.tanh(drive[:, t] + h @ self.W_hh.T + y @ self.W_yh.T)  # (B, H)
            y = h @ self.W_hy.T + self.b_y  # (B, O)
            outputs.append(y)
        return torch.stack(outputs, dim=1), h  # (B, T, O), (B, H)


class Bidirectional(nn.Module):
    """Runs ``forward_layer`` on the sequence and ``backward_layer`` on it reversed in time.

    Both layers map (B, T, in) to ((B, T, out), final state (B, width)); the result concatenates
    their outputs step by step, (B, T, 2 out), and their final states, (B, 2 width).
    """

    def __init__(self, forward_layer: nn.Module, backward_layer: nn.Module) -> None:
        super().__init__()
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y_f, h_f = self.forward_layer(x)  # (B, T, out), (B, width)
        y_b, h_b = self.backward_layer(x.flip(1))  # the same, read from step T back to 1
        # Flipping y_b back aligns both directions on the step they describe.
        y = torch.cat([y_f, y_b.flip(1)], dim=-1)  # (B, T, 2 out)
        return y, torch.cat([h_f, h_b], dim=-1)  # (B, T, 2 out), (B, 2 width)


class TorchRecurrent(nn.Module):
    """Adapts :class:`torch.nn.LSTM` or :class:`torch.nn.GRU` (one layer, batch-first) to the
    (outputs, final hidden state) interface of the other cells; the LSTM's cell state is dropped.
    """

    def __init__(self, rnn: nn.LSTM | nn.GRU) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, state = self.rnn(x)  # (B, T, D H), state (D, B, H) or the LSTM's (h, c)
        h = state[0] if isinstance(state, tuple) else state  # (D, B, H)
        # Directions side by side, forward first, as Bidirectional concatenates them.
        return y, h.transpose(0, 1).reshape(x.shape[0], -1)  # (B, T, D H), (B, D H)


def _torch_cell(
    rnn_cls: type[nn.LSTM] | type[nn.GRU], input_size: int, hidden_size: int, bidirectional: bool
) -> nn.Module:
    # torch's own initialisation, U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias.
    rnn = rnn_cls(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
    return TorchRecurrent(rnn)


class LastOutput(nn.Module):
    """Summarises an Elman or Jordan layer by its last output y_T = W_hy h_T + b_y, not h_T.

    y_T carries what h_T does (a linear readout of it, as wide), and it keeps W_hy and b_y in use
    when the layer is the encoder's last, whose output sequence is otherwise discarded.
    """

    def __init__(self, rnn: ElmanRNN) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, _ = self.rnn(x)  # (B, T, O)
        return y, y[:, -1]  # (B, T, O), (B, O)


def _classic_cell(
    rnn_cls: type[ElmanRNN], input_size: int, hidden_size: int, bidirectional: bool
) -> nn.Module:
    # As a hidden layer the network passes on its outputs y_t, as wide as its state: for Jordan
    # they are what it feeds back, and the next layer's W_xh absorbs the linear readout.
    def make() -> nn.Module:
        return LastOutput(rnn_cls(input_size, hidden_size, hidden_size))

    return Bidirectional(make(), make()) if bidirectional else make()


# Cell name -> factory(input_size, hidden_size, bidirectional) of one recurrent layer mapping
# (B, T, input_size) to ((B, T, D hidden_size), final state (B, D hidden_size)), D = 2 when
# bidirectional, else 1.
CELLS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "lstm": partial(_torch_cell, nn.LSTM),
    "gru": partial(_torch_cell, nn.GRU),
    "elman": partial(_classic_cell, ElmanRNN),
    "jordan": partial(_classic_cell, JordanRNN),
}


class RecurrentStack(nn.Module):
    """Recurrent layers of ``widths`` on top of each other, with dropout between them.

    Maps (B, T, input_size) to (the last layer's outputs (B, T, D widths[-1]), its final state
    (B, D widths[-1])), D = 2 when bidirectional, else 1.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        widths: tuple[int, ...],
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        directions = 2 if bidirectional else 1
        sizes_in = (input_size, *(w * directions for w in widths[:-1]))
        self.layers = nn.ModuleList(
            CELLS[cell](n_in, width, bidirectional)
            for n_in, width in zip(sizes_in, widths, strict=True)
        )
        self.dropout = nn.Dropout(dropout)
        self.out_features = widths[-1] * directions

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.dropout(x)  # (B, T, D widths[i - 1])
            x, h = layer(x)  # (B, T, D widths[i]), (B, D widths[i])
        return x, h


def _linear(n_in: int, n_out: int, activation: str) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    init_linear(layer, activation)
    return layer


class RecurrentEncoder(nn.Module):
    """x (B, T * F) -> z (B, K): stacked recurrent layers, then a linear map of the final state.

    ``n_out`` overrides the output width (a VAE's encoder emits 2K numbers: mean and log-variance).
    """

    def __init__(self, config: RecurrentConfig, n_out: int | None = None) -> None:
        super().__init__()
        self.input_shape = config.input_shape
        self.rnn = RecurrentStack(
            config.cell,
            config.input_shape[1],
            config.hidden,
            config.bidirectional,
            config.dropout,
        )
        self.code = _linear(
            self.rnn.out_features, n_out or config.latent_dim, config.code_activation
        )
        self.code_activation = make_activation(config.code_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)  # (B, T, F)
        _, h = self.rnn(x)  # (B, D hidden[-1]) the final state summarises the whole window
        return self.code_activation(self.code(h))  # (B, K)


class RecurrentDecoder(nn.Module):
    """z (B, K) -> logits (B, T * F): z repeated as the input of every step of stacked recurrent
    layers in the mirrored widths, then a per-step linear layer to the F features."""

    def __init__(self, config: RecurrentConfig) -> None:
        super().__init__()
        self.n_steps, n_features = config.input_shape
        widths = tuple(reversed(config.hidden))
        # Linear: the recurrent layer that reads this vector squashes its input itself.
        self.expand = _linear(config.latent_dim, widths[0], "linear")
        self.rnn = RecurrentStack(
            config.cell, widths[0], widths, config.bidirectional, config.dropout
        )
        # Initialised for the output activation it feeds, which the autoencoder applies (the
        # losses want the logits).
        self.readout = _linear(self.rnn.out_features, n_features, config.output_activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        v = self.expand(z)  # (B, hidden[-1])
        seq = v.unsqueeze(1).expand(-1, self.n_steps, -1)  # (B, T, hidden[-1]) repeat vector
        y, _ = self.rnn(seq)  # (B, T, D hidden[0])
        return self.readout(y).flatten(1)  # (B, T, F) -> (B, T * F)


class RecurrentAutoencoder(EncoderDecoder):
    """Recurrent sequence autoencoder built from a :class:`RecurrentConfig`; flat rows in and out.

    Examples
    --------
    >>> import torch
    >>> from aekit.models import RecurrentAutoencoder, RecurrentConfig
    >>> ae = RecurrentAutoencoder(RecurrentConfig(input_shape=(16, 2), latent_dim=4))
    >>> out = ae(torch.randn(5, 32))
    >>> tuple(out.x_hat.shape), tuple(out.z.shape)
    ((5, 32), (5, 4))
    >>> gru = RecurrentAutoencoder(
    ...     RecurrentConfig((10, 1), latent_dim=3, hidden=(8, 4), cell="gru", bidirectional=True)
    ... )
    >>> tuple(gru.decode(gru.encode(torch.randn(3, 10))).shape)
    (3, 10)
    """

    encoder_cls = RecurrentEncoder
    decoder_cls = RecurrentDecoder
