"""The optimisers as the loop uses them: a batch of pictures, each with its own state and step, on the device.

Both take the pictures as one (B, ...) tensor and its gradient, and change it in place with tensor
operations only: no Python branch reads a tensor, so nothing waits for the device between previews
and a CUDA graph can hold the whole update. Their state lives in tensors allocated once and written
in place, which is what a captured graph needs.

`LBFGS` is torch.optim.LBFGS(max_iter=1, tolerance_grad=0, tolerance_change=0), one step per call,
for every picture at once: the same first step, the same rule for keeping a curvature pair and the
same scaling of the initial inverse Hessian. It computes H·g in the compact form of Byrd, Nocedal and
Schnabel (1994) instead of the two-loop recursion: four batched matrix products over the stacked
history S, Y and two small triangular solves, instead of 4m dot products and vector updates that
each go through memory (and launch a kernel) of their own.
"""

from __future__ import annotations

import torch

CURVATURE_EPS = 1e-10  # a pair is kept when s·y exceeds this, as torch.optim.LBFGS does
ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
ADAM_EPS = 1e-8


class LBFGS:
    """Limited-memory BFGS for a batch: each picture keeps its own `history` curvature pairs and step size.

    Pairs fill the slots of a ring from slot 0. Eagerly, a step reads only the slots that can hold a pair
    by now (at most one per step so far), so a run's first iterations cost little on a CPU; with
    `whole=True` it always reads every slot, one shape throughout, as a captured CUDA graph needs.
    """

    def __init__(self, like: torch.Tensor, lr: torch.Tensor, history: int, whole: bool = False):
        batch, size = like.shape[0], like[0].numel()
        self.whole = whole
        self.lr = lr.to(like.device, like.dtype).clone()  # (B,)
        self.S = like.new_zeros(batch, history, size)  # steps, a ring of `history` slots
        self.Y = torch.zeros_like(self.S)  # gradient changes, in the same slots
        self.SY = like.new_zeros(batch, history, history)  # s_i . y_j, by slot
        self.YY = torch.zeros_like(self.SY)  # y_i . y_j, by slot
        self.pairs = like.new_zeros(batch, dtype=torch.long)  # pairs kept since the start (slot = pairs % history)
        self.iterations = like.new_zeros(batch, dtype=torch.long)
        self.gamma = like.new_ones(batch)  # H0 = gamma I
        self.direction = like.new_zeros(batch, size)
        self.t = like.new_zeros(batch)  # the step length taken along `direction`
        self.previous = like.new_zeros(batch, size)  # the gradient at the last step
        self.s_g = like.new_zeros(batch, history)  # S'g, Y'g and Y'direction at the last step, by slot
        self.y_g = like.new_zeros(batch, history)
        self.y_d = like.new_zeros(batch, history)
        self.calls = 0  # steps so far, counted on the host: no more pairs than this can have been kept
        self._rows = torch.arange(batch, device=like.device)

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        """One iteration for every picture: x (B, ...) moves along its own L-BFGS direction."""
        self.calls += 1
        history = self.S.shape[1]
        slots = history if self.whole else min(history, max(1, self.calls - 1))
        g = grad.detach().reshape(len(x), -1).to(self.S.dtype)  # (B, N)
        moving = g.abs().amax(1) > 0  # torch returns at once on a zero gradient, changing nothing
        first = self.iterations == 0
        s_g, y_g = self._remember(g, moving & ~first, slots)
        direction, y_d = self._direction(g, s_g, y_g, slots)
        t = torch.where(first, torch.clamp(1.0 / g.abs().sum(1), max=1.0) * self.lr, self.lr)
        descent = ~((g * direction).sum(1) > 0)  # torch steps unless g.d > 0 (so a NaN still steps)
        x.add_((torch.where(moving & descent, t, 0.0)[:, None] * direction).view_as(x).to(x.dtype))
        keep = moving[:, None]
        for state, value in ((self.direction, direction), (self.previous, g), (self.s_g[:, :slots], s_g),
                             (self.y_g[:, :slots], y_g), (self.y_d[:, :slots], y_d)):
            state.copy_(torch.where(keep, value, state))
        self.t.copy_(torch.where(moving, t, self.t))
        self.iterations.add_(moving.long())

    @torch.no_grad()
    def reset(self, which: torch.Tensor, lr: torch.Tensor) -> None:
        """Start the pictures where `which` (B,) is true afresh, with step scale `lr` (B,); others keep theirs."""
        self.lr.copy_(torch.where(which, lr, self.lr))
        for state in (self.S, self.Y, self.SY, self.YY):  # zeros, not just forgotten: 0 x inf would be NaN
            state.masked_fill_(which[:, None, None], 0.0)
        for state in (self.pairs, self.iterations):
            state.masked_fill_(which, 0)
        self.gamma.masked_fill_(which, 1.0)

    def _remember(self, g: torch.Tensor, allowed: torch.Tensor, slots: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the curvature pair of the last step, (s, y), where s.y > CURVATURE_EPS, and return S'g and
        Y'g (B, slots): the only passes over the stacks besides the direction's.

        The new pair's products with the others follow from numbers already at hand, since only its slot
        changed since the last step: s_j.y = s_j.g - s_j.g_last, y_j.y likewise, and
        y_j.s = t y_j.d_last, kept from the last step's direction.
        """
        S, Y, SY, YY = self.S[:, :slots], self.Y[:, :slots], self.SY[:, :slots, :slots], self.YY[:, :slots, :slots]
        y = g - self.previous
        s = self.direction * self.t[:, None]
        ys, yy = (y * s).sum(1), (y * y).sum(1)
        kept = allowed & (ys > CURVATURE_EPS)
        slot = self.pairs % slots  # until the ring is full, `slots` covers every slot written so far
        rows, keep = self._rows, kept[:, None]
        S[rows, slot] = torch.where(keep, s, S[rows, slot])
        Y[rows, slot] = torch.where(keep, y, Y[rows, slot])
        s_g = torch.bmm(S, g[:, :, None]).squeeze(2)  # (B, slots)
        y_g = torch.bmm(Y, g[:, :, None]).squeeze(2)
        new = torch.arange(slots, device=g.device) == slot[:, None]  # (B, slots): the new pair's slot
        column = torch.where(new, ys[:, None], s_g - self.s_g[:, :slots])  # s_j . y
        row = torch.where(new, ys[:, None], self.t[:, None] * self.y_d[:, :slots])  # y_j . s
        square = torch.where(new, yy[:, None], y_g - self.y_g[:, :slots])  # y_j . y
        SY[rows, :, slot] = torch.where(keep, column, SY[rows, :, slot])
        SY[rows, slot, :] = torch.where(keep, row, SY[rows, slot, :])
        YY[rows, :, slot] = torch.where(keep, square, YY[rows, :, slot])
        YY[rows, slot, :] = torch.where(keep, square, YY[rows, slot, :])
        self.gamma.copy_(torch.where(kept, ys / yy, self.gamma))
        self.pairs.add_(kept.long())
        return s_g, y_g

    def _direction(self, g: torch.Tensor, s_g: torch.Tensor, y_g: torch.Tensor,
                   slots: int) -> tuple[torch.Tensor, torch.Tensor]:
        """-H g in compact form, H = gamma I + [S  gamma Y] M [S  gamma Y]^T (Byrd, Nocedal & Schnabel 1994, (2.6)),
        and Y'(-H g), which the next step's new pair needs.

        With R the upper triangle of S'Y in time order and D its diagonal:
        u = R^-1 S'g,  v = R^-T ((D + gamma Y'Y) u - gamma Y'g),  H g = gamma g + S v - gamma Y u.
        Unused slots get a unit diagonal and zero rows, so their u and v are 0.
        """
        ages = torch.arange(slots, device=g.device)
        order = (self.pairs[:, None] + ages) % slots  # (B, slots): slots oldest first; unused ones lead
        used = ages >= slots - self.pairs.clamp(max=slots)[:, None]  # (B, slots) in that order
        both = used[:, :, None] & used[:, None, :]

        def in_time_order(matrix: torch.Tensor) -> torch.Tensor:
            rows = matrix.gather(1, order[:, :, None].expand_as(matrix))
            return torch.where(both, rows.gather(2, order[:, None, :].expand_as(matrix)), 0.0)

        SY, YY = self.SY[:, :slots, :slots], self.YY[:, :slots, :slots]
        sy, yy = in_time_order(SY), in_time_order(YY)
        a = torch.where(used, s_g.gather(1, order), 0.0)[:, :, None]  # (B, slots, 1)
        b = torch.where(used, y_g.gather(1, order), 0.0)[:, :, None]
        gamma = self.gamma[:, None, None]
        r = torch.triu(sy) + torch.diag_embed((~used).to(sy.dtype))
        u = torch.linalg.solve_triangular(r, a, upper=True)
        w = torch.diagonal(sy, dim1=1, dim2=2)[:, :, None] * u + gamma * (yy @ u) - gamma * b
        v = torch.linalg.solve_triangular(r.transpose(1, 2), w, upper=False)
        # Back to slot order for the products with the stacks.
        u = torch.zeros_like(u).scatter_(1, order[:, :, None], u)
        v = torch.zeros_like(v).scatter_(1, order[:, :, None], v)
        gamma = self.gamma[:, None]
        direction = -(gamma * g + torch.bmm(v.transpose(1, 2), self.S[:, :slots]).squeeze(1)
                      - gamma * torch.bmm(u.transpose(1, 2), self.Y[:, :slots]).squeeze(1))
        y_d = -(gamma * y_g + (SY.transpose(1, 2) @ v).squeeze(2) - gamma * (YY @ u).squeeze(2))
        return direction, y_d


class Adam:
    """Adam for a batch (torch.optim.Adam's update and defaults), each picture with its own step size and count."""

    def __init__(self, like: torch.Tensor, lr: torch.Tensor):
        self.lr = lr.to(like.device, like.dtype).clone()  # (B,)
        self.mean = torch.zeros_like(like)
        self.square = torch.zeros_like(like)
        self.count = like.new_zeros(len(like))

    @torch.no_grad()
    def step(self, x: torch.Tensor, grad: torch.Tensor) -> None:
        beta1, beta2 = ADAM_BETAS
        g = grad.detach().to(self.mean.dtype)
        self.count.add_(1)
        self.mean.lerp_(g, 1 - beta1)
        self.square.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        shape = (-1,) + (1,) * (x.ndim - 1)
        step_size = (self.lr / (1 - beta1**self.count)).view(shape)
        denominator = (self.square.sqrt() / (1 - beta2**self.count).sqrt().view(shape)).add_(ADAM_EPS)
        x.sub_((step_size * self.mean / denominator).to(x.dtype))

    @torch.no_grad()
    def reset(self, which: torch.Tensor, lr: torch.Tensor) -> None:
        """Start the pictures where `which` (B,) is true afresh, with step `lr` (B,)."""
        self.lr.copy_(torch.where(which, lr, self.lr))
        picture = which.view((-1,) + (1,) * (self.mean.ndim - 1))
        self.mean.masked_fill_(picture, 0.0)
        self.square.masked_fill_(picture, 0.0)
        self.count.masked_fill_(which, 0.0)


Optimizer = LBFGS | Adam


def make_optimizer(x: torch.Tensor, optimizer: str, lr: torch.Tensor, history: int, whole: bool = False) -> Optimizer:
    """The batched optimiser named `optimizer` ("lbfgs" or "adam") for the pictures x (B, ...); `whole`: one
    shape of work at every step, for a CUDA graph."""
    return Adam(x, lr) if optimizer == "adam" else LBFGS(x, lr, history, whole)
