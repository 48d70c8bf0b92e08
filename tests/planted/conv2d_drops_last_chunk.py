"""conv2d: the loop over chunks of the batch stops one chunk short — the last images' outputs
are never written (and their gradients never summed) once the column matrices span several
chunks; a batch whose columns fit in one chunk, as every small example's do, is right."""

import impl
from impl.ops.conv import Conv2d
from tests.planted._base import plant, substitute

KIND = "a chunk of the batch lost above a size"
REQUIRES = "size threshold"
AFFECTS = ("nn.functional.conv2d[bias]",)
EXPECT_CHECK = "forward"
DTYPES = ("float32", "float64")


class Conv2dDropsLastChunk(Conv2d):
    chunk_bytes = 1 << 20  # chunks the large tier's examples outgrow

    def _bounds(self, n, per_image):
        bounds = super()._bounds(n, per_image)
        return bounds[:-1] if len(bounds) > 1 else bounds


plant(globals(), {"nn.functional.conv2d": substitute(impl.nn.functional.conv2d, Conv2d,
                                                     Conv2dDropsLastChunk)})
