"""unit_indicators with units given as bounding-box masks (BoxMask) equal the grid-sized masks."""

import numpy as np
import pandas as pd
import pytest

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
    # built strip by strip from a reader (the stage's path), not from the grid mask itself
    boxed = unit_indicators(h1, h2, [(k, u, n, BoxMask.from_reader(lambda r, c, m=m: m[r, c], m.shape, strip_rows=7))
                                     for k, u, n, m in units], **kw)
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


# Strip by strip against the whole-array functions (exact equality)

def _reference(h1, h2, units, *, cs, pf, q, neighbours, edge_cells, disp, prob, min_ha):
    """Per-unit figures from the whole-array functions, each unit alone as a zone raster."""
    from habitat.indicators.change import effective_mesh_size, habitat_change
    from habitat.indicators.fragmentation import class_metrics
    from habitat.indicators.patch_graph import habitat_eca

    ca, ref = cs * cs, {}
    for _, uid, _, m in units:
        if not m.any():
            continue
        c = habitat_change(h1, h2, cell_area_m2=ca, units=m.astype(np.int64)).loc[1]
        unit_ha = c["unit_area_ha"]
        ref[(uid, "unit_area_ha", "2000-2020")] = unit_ha
        ref[(uid, "habitat_loss_ha", "2000-2020")] = c["loss_ha"]
        ref[(uid, "habitat_gain_ha", "2000-2020")] = c["gain_ha"]
        ref[(uid, "habitat_loss_pct", "2000-2020")] = c["loss_pct"]
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        for epoch, h, area in (("2000", h1, c["area_t1_ha"]), ("2020", h2, c["area_t2_ha"])):
            ref[(uid, "habitat_area_ha", epoch)] = area
            mesh = effective_mesh_size(h, cell_area_m2=ca, units=m.astype(np.int64), neighbours=neighbours).loc[1]
            ref[(uid, "MESH_CUT", epoch)] = mesh["MESH_CUT"]
            ref[(uid, "MESH_CBC", epoch)] = mesh["MESH_CBC"]
            sel = m & h
            inside = float(np.nan_to_num(pf[sel].astype(np.float64)).sum()) * ca / 1e4
            ref[(uid, "habitat_protected_pct", epoch)] = 100.0 * inside / area if area > 0 else np.nan
            classes = np.where(m, np.where(h, 1, 2), 0).astype(np.uint8)[box]
            table = class_metrics(classes, cell_size=cs, nodata=0, neighbours=neighbours, edge_depth=edge_cells)
            for name in ("NP", "LPI", "ED", "AREA_MN", "TCA"):
                ref[(uid, name, epoch)] = float(table.loc[1, name]) if 1 in table.index else None
            eca, labels = habitat_eca(sel[box], cell_size_m=cs, ref_distance_m=disp, ref_probability=prob,
                                      neighbours=neighbours, min_area_ha=min_ha)
            ref[(uid, "graph_patches", epoch)] = float(labels.max())
            ref[(uid, "EC_ha", epoch)] = eca
            ref[(uid, "PC", epoch)] = (eca / unit_ha) ** 2
        ref[(uid, "quality_weighted_area_ha", "2020")] = float(np.nan_to_num(q[m & h2]).sum()) * ca / 1e4
    return ref


@pytest.mark.parametrize("cs, neighbours, edge_m, min_ha", [(30.0, 8, 60.0, 0.0), (5000.0, 8, None, 0.0),
                                                          (33.3, 4, 100.0, 0.3), (1000.0, 8, 2500.0, 150.0)])
def test_strips_equal_the_whole_array_functions(cs, neighbours, edge_m, min_ha):
    rng = np.random.default_rng(int(cs))
    shape = (70, 53)
    h1 = rng.random(shape) < 0.58
    h2 = (h1 & (rng.random(shape) < 0.93)) | (rng.random(shape) < 0.05)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    west = xx < 26
    disc = (yy - 25) ** 2 + (xx - 30) ** 2 < 15 ** 2
    units = [("study_area", "ALL", "all", np.ones(shape, bool)), ("range_state", "W", "w", west),
             ("range_state", "E", "e", ~west), ("population_area", "P", "p", disc),
             ("protected_area", "X", "x", np.zeros(shape, bool))]
    pf = rng.random(shape).astype(np.float32)
    pf[rng.random(shape) < 0.1] = np.nan
    q = rng.random(shape) * 1e3
    kw = dict(year_t1=2000, year_t2=2020, cell_size_m=cs, protected_fraction=pf, quality=q, neighbours=neighbours,
              edge_depth_m=edge_m, dispersal_distance_m=5 * cs, dispersal_probability=0.5, graph_min_patch_ha=min_ha)
    edge_cells = 1 if edge_m is None else max(1, int(np.ceil(edge_m / cs - 1e-9)))
    ref = _reference(h1, h2, units, cs=cs, pf=pf, q=q, neighbours=neighbours, edge_cells=edge_cells,
                     disp=5 * cs, prob=0.5, min_ha=min_ha)
    whole = unit_indicators(h1, h2, units, **kw)
    got = {(r.unit_id, r.indicator, r.epoch): r.value for r in whole.itertuples()}
    checked = 0
    for key, value in ref.items():
        if value is None:
            continue
        assert key in got, key
        assert got[key] == value or (np.isnan(got[key]) and np.isnan(value)), (key, got[key], value)
        checked += 1
    assert checked > 100 and ("X", "unit_area_ha", "2000-2020") not in got
    # any strip height (one row, a few rows, a block of a few hundred cells), readers or arrays
    for strip_cells in (1, 7, 300):
        strips = unit_indicators(h1, h2, units, strip_cells=strip_cells, **kw)
        pd.testing.assert_frame_equal(strips, whole, check_exact=True)
    readers = unit_indicators(lambda r, c: h1[r, c], lambda r, c: h2[r, c], units, shape=shape, strip_cells=200,
                              **kw)
    pd.testing.assert_frame_equal(readers, whole, check_exact=True)


def test_box_mask_from_reader_and_windows():
    _, _, units, _ = _landscape()
    disc = units[2][3]
    lazy = BoxMask.from_reader(lambda r, c: disc[r, c], disc.shape, strip_rows=7)
    assert lazy.box == BoxMask.from_mask(disc).box == (slice(10, 22), slice(29, 41))
    np.testing.assert_array_equal(lazy.window(slice(0, 60), slice(0, 50)), disc)
    np.testing.assert_array_equal(lazy.window(slice(14, 16), slice(27, 31)), disc[14:16, 27:31])
    full = BoxMask.full((60, 50))
    assert full.count_in(disc) == 133 and lazy.count_in(full) == 133
    assert not BoxMask.from_reader(lambda r, c: np.zeros((r.stop - r.start, c.stop - c.start), bool), (9, 4)).any()


def test_each_unit_and_date_is_labelled_once(monkeypatch):
    """One labelling of the grid per date (MESH_CBC) and one of each unit's box per date: the
    fragmentation pass's habitat patches also give MESH_CUT and the PC/EC graph."""
    import habitat.indicators._unit_scan as unit_scan
    import habitat.indicators.fragmentation_blockwise as fragmentation_blockwise

    shapes = []

    def counting(real):
        def label_blocks(read, shape, **kw):
            shapes.append(tuple(shape))
            return real(read, shape, **kw)
        return label_blocks

    for module in (unit_scan, fragmentation_blockwise):
        monkeypatch.setattr(module, "label_blocks", counting(module.label_blocks))
    h1, h2, units, _ = _landscape()
    unit_indicators(h1, h2, units, year_t1=2000, year_t2=2020, cell_size_m=30.0,
                    dispersal_distance_m=500.0, dispersal_probability=0.5)
    # grid (60, 50): MESH_CBC and the study area; west (60, 25); disc box (12, 12); empty: none
    assert sorted(shapes) == sorted([(60, 50)] * 4 + [(60, 25)] * 2 + [(12, 12)] * 2)


def test_box_mask_of_zones_reads_each_box_after_one_pass():
    zone = np.zeros((40, 30), np.int32)
    zone[3:9, 20:27] = 2
    zone[30, 4] = 5
    zone[12:35, 10:12] = 9              # a value not asked for: no unit's cell
    zone[5, 1] = 2                      # widens unit 2's box to columns 1..26
    reads = []

    class Reader:
        shape = zone.shape

        def __getitem__(self, key):
            reads.append(key)
            return zone[key]

    for ids in ([2, 5, 7], [5 << 25, 2]):
        masks = BoxMask.of_zones(Reader(), ids, strip_rows=16)
        for i, mask in zip(ids, masks):
            expected = BoxMask.from_mask(zone == i)
            assert mask.box == expected.box
            np.testing.assert_array_equal(mask.window(slice(0, 40), slice(0, 30)), zone == i)
    assert BoxMask.of_zones(Reader(), [2])[0].box == (slice(3, 9), slice(1, 27))
    # the one pass reads full-width strips, then unit 2's box alone (rows 3..8) is read
    reads.clear()
    BoxMask.of_zones(Reader(), [2, 5], strip_rows=16)
    assert reads == [(slice(0, 16), slice(None)), (slice(16, 32), slice(None)), (slice(32, 40), slice(None)),
                     (slice(3, 9), slice(1, 27)), (slice(30, 31), slice(4, 5))]
