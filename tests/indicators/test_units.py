"""unit_indicators with units given as bounding-box masks (BoxMask) equal the grid-sized masks."""

import numpy as np
import pandas as pd

from habitat.indicators.units import BoxMask, unit_indicators


def _landscape():
    rng = np.random.default_rng(4)
    h1 = rng.random((60, 50)) < 0.45
    h2 = h1 & (rng.random(h1.shape) < 0.9)
    full = np.ones(h1.shape, bool)
    west = np.zeros(h1.shape, bool)
    west[:, :25] = True
    disc = np.zeros(h1.shape, bool)
    disc[10:22, 30:41] = True
    disc[15, 29] = True
    empty = np.zeros(h1.shape, bool)
    units = [("study_area", "ALL", "all", full), ("range_state", "W", "west", west),
             ("population_area", "P", "disc", disc), ("protected_area", "E", "empty", empty)]
    return h1, h2, units, rng.random(h1.shape).astype(np.float32)


def test_box_masks_give_the_same_table_as_grid_masks():
    h1, h2, units, pf = _landscape()
    kw = dict(year_t1=2000, year_t2=2020, cell_size_m=30.0, protected_fraction=pf, quality=pf,
              dispersal_distance_m=500.0, dispersal_probability=0.5)
    whole = unit_indicators(h1, h2, units, **kw)
    boxed = unit_indicators(h1, h2, [(k, u, n, BoxMask.from_mask(m)) for k, u, n, m in units], **kw)
    assert len(whole) > 50
    pd.testing.assert_frame_equal(boxed, whole, check_exact=True)


def test_box_mask_crops_and_counts_overlaps():
    _, _, units, _ = _landscape()
    west, disc, empty = (BoxMask.from_mask(u[3]) for u in units[1:])
    assert disc.box == (slice(10, 22), slice(29, 41)) and disc.mask.shape == (12, 12)
    assert int(disc.mask.sum()) == 12 * 11 + 1
    assert not empty.any() and empty.count_in(units[1][3]) == 0
    # the disc reaches the western half in one cell (row 15, column 29 >= 25): none
    assert disc.count_in(units[1][3]) == 0 and disc.count_in(west) == 0
    assert disc.count_in(units[0][3]) == 133 and disc.count_in(BoxMask.from_mask(units[0][3])) == 133
    wide = np.zeros((60, 50), bool)
    wide[14:16, 28:31] = True  # 6 cells, 3 in the disc: (14, 30), (15, 30) and (15, 29)
    assert disc.count_in(wide) == 3 and disc.count_in(BoxMask.from_mask(wide)) == 3
