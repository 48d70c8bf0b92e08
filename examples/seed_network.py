"""The seed tutorial's network, built and trained with impl.

Eight nodes: the inputs x1 and x2; the hidden sigmoid units x3..x6, each fed by x1 and x2; the
output sigmoid unit x7, fed by x3..x6; and the loss node x8 = 0.5 * (x7 - E)**2 for the expected
output E. The weights and biases on the edges are leaf tensors; ``x8.backward()`` is the seed's
reverse sweep, which leaves dx8/dw in each ``w.grad``, and gradient descent steps w -= lr * grad.

    python examples/seed_network.py
"""

import impl
import impl.nn.functional as F


def main(steps=10, lr=0.5, seed=0):
    """Train on one example for ``steps`` steps, printing x7 and x8; return the losses."""
    gen = impl.Generator(seed)
    x = impl.tensor([0.05, 0.10])  # nodes 1 and 2
    E = 0.9
    w_hidden = impl.randn(4, 2, generator=gen, requires_grad=True)  # edges 1,2 -> 3..6
    b_hidden = impl.zeros(4, requires_grad=True)
    w_out = impl.randn(1, 4, generator=gen, requires_grad=True)  # edges 3..6 -> 7
    b_out = impl.zeros(1, requires_grad=True)
    params = [w_hidden, b_hidden, w_out, b_out]

    losses = []
    for step in range(steps):
        hidden = F.sigmoid(F.linear(x, w_hidden, b_hidden))  # nodes 3..6
        x7 = F.sigmoid(F.linear(hidden, w_out, b_out))
        x8 = 0.5 * (x7 - E) ** 2
        x8.backward()
        for p in params:
            p.data -= lr * p.grad.data
            p.grad = None
        losses.append(x8.item())
        print(f"step {step}: x7 = {x7.item():.4f}  x8 = {x8.item():.6f}")
    return losses


if __name__ == "__main__":
    main()
