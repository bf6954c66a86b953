"""Suitability of one block of cells from its criteria, threats, riparian strip, constraints and terrain.

The whole per-cell formula of METHODS.md 1-2 in one call on numpy arrays: the suitability stage
calls it once per block (habitat/stages/suitability.py reads the layers and writes the outputs),
and a Python user can call it on whole arrays. Neighbourhood means (a criterion's ``radius_m``) are
not per cell: compute them first (:func:`habitat.suitability.membership.cover_within_radius`) and
pass the mean as the criterion's values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Terrain criterion -> its decreasing membership in habitat.suitability.terrain (keyword names of
#: the ``full`` and ``zero`` bounds).
TERRAIN_MEMBERSHIPS = {
    "altitude_m": ("altitude_membership", "full_m", "zero_m"),
    "slope_deg": ("slope_membership", "full_deg", "zero_deg"),
    "height_above_river_m": ("height_above_river_membership", "full_m", "zero_m"),
}


#: Membership functions that read float32 values cell by cell as float64 (habitat.suitability._kernels
#: ``ramp`` and ``decay_exponent``): the same results as on the widened array.
WIDEN_PER_CELL = frozenset({"linear", "exponential_decay"})


def degradation_quality(codes: np.ndarray, distances_m: Mapping[str, np.ndarray], threat_table: Any,
                        sensitivity: Any, half_saturation: float) -> tuple[np.ndarray, np.ndarray]:
    """InVEST threat degradation D and habitat quality Q of a block of class codes (0 = nodata).

    ``D_x = sum_r sum_y (w_r / sum w) i_rxy S_jr`` over the threats ``r`` (``i`` the linear or
    exponential decay of the distance ``distances_m[r]`` up to ``max_dist_m``), and
    ``Q_x = H_j (1 - D_x^z / (D_x^z + k^z))`` with ``z = 2.5``, ``k = half_saturation``; see
    :func:`habitat.suitability.quality.degradation_quality_block`. Without threats D = 0 and Q
    is the class's habitat score ``H_j``.

    Parameters
    ----------
    codes : ndarray of int
        Habitat class codes, 0 = nodata.
    distances_m : mapping of str to ndarray
        Distance to each threat in metres (>= 0), keyed by the ``threat`` column of ``threat_table``.
    threat_table : pandas.DataFrame
        Columns ``threat``, ``max_dist_m`` (m, > 0), ``weight`` (>= 0), ``decay`` (linear/exponential).
    sensitivity : pandas.DataFrame
        Columns ``lucode``, ``habitat`` (H in [0, 1]) and one sensitivity in [0, 1] per threat.
    half_saturation : float
        InVEST k (> 0).

    Returns
    -------
    degradation, quality : ndarray of float64
        D >= 0 and Q in [0, 1]; NaN where ``codes`` is 0.
    """
    if distances_m:
        from habitat.suitability.quality import degradation_quality_block

        return degradation_quality_block(codes, distances_m, threat_table=threat_table, sensitivity_table=sensitivity,
                                         half_saturation=half_saturation, lulc_nodata=0)
    lookup = np.zeros(256)
    lookup[sensitivity["lucode"].to_numpy()] = sensitivity["habitat"].to_numpy()
    valid = codes > 0
    return np.where(valid, 0.0, np.nan), np.where(valid, lookup[codes], np.nan)


def terrain_membership(criterion: str, values: np.ndarray, *, full: float, zero: float) -> np.ndarray:
    """Decreasing terrain membership: 1 up to ``full``, linear to 0 at ``zero`` (units of ``values``:
    m for altitude and height above river, degrees for slope); NaN values (outside the DEM) give 1,
    so missing terrain never lowers suitability."""
    from habitat.suitability import terrain

    function, full_key, zero_key = TERRAIN_MEMBERSHIPS[criterion]
    mu = getattr(terrain, function)(values, **{full_key: full, zero_key: zero})
    return np.where(np.isnan(mu), 1.0, mu)


def output_names(criteria: Sequence[str], terrain: bool) -> list[str]:
    """Names of :func:`compose_suitability`'s outputs, in the order of its stacked array."""
    return ["suitability", "degradation", "quality", *(f"membership_{n}" for n in criteria),
            *(["membership_terrain"] if terrain else [])]


def compose_suitability(
    classes: np.ndarray,
    *,
    criteria: Mapping[str, tuple[str, Mapping[Any, float]]],
    values: Mapping[str, np.ndarray],
    threat_distances_m: Mapping[str, np.ndarray],
    threat_table: Any,
    sensitivity: Any,
    half_saturation: float,
    combination: str = "weighted_linear",
    weights: Mapping[str, float] | None = None,
    gamma: float | None = None,
    excluded_codes: Sequence[int] = (),
    floodplain: np.ndarray | None = None,
    riparian_share: np.ndarray | None = None,
    riparian_tugai_score: float = 1.0,
    riparian_cap_by_code: np.ndarray | None = None,
    terrain: Sequence[tuple[str, np.ndarray, float, float]] = (),
    out: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Suitability in [0, 1] and its parts for a block of cells (METHODS.md 1-2).

    Per cell, in this order:

    1. threat degradation ``D`` and quality ``Q`` (:func:`degradation_quality`);
    2. each criterion's membership ``mu_c`` in [0, 1] (:func:`habitat.suitability.membership.apply_membership`
       on its values, or the class score per code for ``class_scores``), NaN outside the data;
    3. ``S = combine(mu)`` (:func:`habitat.suitability.combine.combine_memberships`, e.g. weighted linear
       ``S = sum_c w_c mu_c`` with ``sum w_c = 1``);
    4. riparian strip (if ``riparian_share`` is given): ``S = max(S, share * tugai_score)`` with the
       share capped per class code (:func:`habitat.suitability.riparian.riparian_suitability`);
    5. constraints: ``S = 0`` where the class is excluded or (if given) outside the floodplain;
    6. terrain: ``S = S * prod_t mu_t`` over the terrain memberships (:func:`terrain_membership`).

    Parameters
    ----------
    classes : ndarray of uint8, shape (H, W)
        Habitat class codes (habitat.vocabulary.HABITAT_CLASS_CODES), 0 = nodata.
    criteria : mapping of str to (str, mapping)
        Criterion name -> (membership function name, its keyword parameters); for ``class_scores``
        the mapping is {class code: score in [0, 1]}. Order = order of the membership outputs.
    values : mapping of str to ndarray
        Values of each criterion that is not ``class_scores`` (e.g. distance in m, a cover fraction,
        or its neighbourhood mean). A criterion named ``quality`` without values uses ``Q`` of step 1.
    threat_distances_m, threat_table, sensitivity, half_saturation
        See :func:`degradation_quality`.
    combination, weights, gamma
        See :func:`habitat.suitability.combine.combine_memberships` (weights normalised to sum 1).
    excluded_codes : sequence of int
        Class codes that score 0 (hard constraint).
    floodplain : ndarray, optional
        Cells > 0 are in the floodplain; others score 0 (hard constraint). None: no constraint.
    riparian_share : ndarray of float, optional
        Share in [0, 1] of each cell within the riparian strip (habitat.suitability.riparian.strip_share).
    riparian_tugai_score : float
        Suitability in [0, 1] of a cell wholly under the strip.
    riparian_cap_by_code : ndarray of float, shape (256,), optional
        Largest usable strip share per class code (1 = no cap); required with ``riparian_share``.
    terrain : sequence of (str, ndarray, float, float)
        (criterion in ``TERRAIN_MEMBERSHIPS``, values, full, zero) for each terrain criterion.
    out : ndarray of float32, shape (n, H, W), optional
        Where to write the outputs (n = ``len(output_names(criteria, bool(terrain)))``).

    Returns
    -------
    dict of str to ndarray of float32
        ``suitability`` in [0, 1], ``degradation`` (InVEST D, >= 0), ``quality`` in [0, 1],
        ``membership_<criterion>`` in [0, 1] and, with terrain, ``membership_terrain`` (the product
        of the terrain memberships) in [0, 1]; NaN where ``classes`` is 0. Views into ``out`` (or into
        one new stacked array) in the order of :func:`output_names`.
    """
    names = output_names(list(criteria), bool(terrain))
    shape = (len(names), *classes.shape)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out: needs float32 of shape {shape}, got {out.dtype} {out.shape}")
    plan = None
    if threat_distances_m:
        from habitat.suitability.quality import degradation_plan

        plan = degradation_plan(list(threat_distances_m), threat_table=threat_table, sensitivity_table=sensitivity,
                                half_saturation=half_saturation, lulc_nodata=0)
    # row strips of ~STRIP_CELLS cells: every intermediate is strip-sized (cache-resident, its
    # memory reused from strip to strip) where block-sized ones each cost fresh pages and passes
    # through memory; each strip's cells go through the same operations as a whole block's
    rows = max(1, STRIP_CELLS // max(1, classes.shape[-1])) if classes.ndim == 2 else max(1, len(classes))
    for r0 in range(0, max(1, len(classes)), rows):
        strip = slice(r0, r0 + rows)
        _compose_rows(
            classes[strip], criteria=criteria, values={k: v[strip] for k, v in values.items()},
            threat_distances_m=[d[strip] for d in threat_distances_m.values()], plan=plan, sensitivity=sensitivity,
            combination=combination, weights=weights, gamma=gamma, excluded_codes=excluded_codes,
            floodplain=None if floodplain is None else floodplain[strip],
            riparian_share=None if riparian_share is None else riparian_share[strip],
            riparian_tugai_score=riparian_tugai_score, riparian_cap_by_code=riparian_cap_by_code,
            terrain=[(c, v[strip], full, zero) for c, v, full, zero in terrain], out=out[:, strip],
        )
    return dict(zip(names, out))


#: Cells per row strip of :func:`compose_suitability` (64 Ki cells: 512 KiB per float64 intermediate).
STRIP_CELLS = 1 << 16


def _compose_rows(classes: np.ndarray, *, criteria: Mapping[str, tuple[str, Mapping[Any, float]]],
                  values: Mapping[str, np.ndarray], threat_distances_m: list[np.ndarray], plan: Any,
                  sensitivity: Any, combination: str, weights: Mapping[str, float] | None, gamma: float | None,
                  excluded_codes: Sequence[int], floodplain: np.ndarray | None, riparian_share: np.ndarray | None,
                  riparian_tugai_score: float, riparian_cap_by_code: np.ndarray | None,
                  terrain: Sequence[tuple[str, np.ndarray, float, float]], out: np.ndarray) -> None:
    """:func:`compose_suitability` on one strip of rows, written into ``out`` (its outputs' rows)."""
    from habitat.suitability._kernels import where_valid
    from habitat.suitability.combine import apply_constraints, combine_memberships
    from habitat.suitability.membership import apply_membership, class_scores

    valid = classes > 0
    if plan is not None:
        from habitat.suitability.quality import degradation_quality_rows

        degradation, quality = degradation_quality_rows(classes, threat_distances_m, plan)
    else:
        degradation, quality = degradation_quality(classes, {}, None, sensitivity, 1.0)
    inputs = (classes, *values.values(), *threat_distances_m)
    memberships: dict[str, np.ndarray] = {}
    for name, (function, parameters) in criteria.items():
        if function == "class_scores":
            membership = class_scores(classes, dict(parameters), nodata=0)
        else:
            if name in values:
                source = values[name]
                # float32 layers are widened (a neighbourhood mean is float64 already), except for the
                # memberships whose compiled pass widens each cell itself, exactly (no float64 copy)
                keep = source.dtype == np.float64 or (source.dtype == np.float32 and function in WIDEN_PER_CELL)
                criterion_values = source if keep else source.astype(np.float64)
            elif name == "quality":
                criterion_values = quality
            else:
                raise KeyError(f"criterion {name}: no values given")
            membership = apply_membership(criterion_values, function, parameters)
        membership = np.asarray(membership, dtype=np.float64)
        # NaN outside the data in place when the membership is a fresh array (no new block)
        masked = membership if membership.flags.writeable and membership.flags.c_contiguous and not any(
            np.may_share_memory(membership, a) for a in (*inputs, quality)) else np.empty(classes.shape)
        where_valid(membership, valid, masked)
        memberships[name] = masked

    score = combine_memberships(memberships, method=combination, weights=weights, gamma=gamma)
    if riparian_share is not None:
        from habitat.suitability.riparian import riparian_suitability

        score = riparian_suitability(score, riparian_share, riparian_tugai_score,
                                     riparian_cap_by_code[classes.astype(np.uint8)])
    if classes.dtype == np.uint8:  # a table look-up per cell (np.isin sorts: 4x slower)
        allowed = np.ones(256, dtype=bool)
        allowed[[c for c in excluded_codes if 0 <= c < 256]] = False
        constraints = {"exclude_classes": allowed[classes]}
    else:
        constraints = {"exclude_classes": ~np.isin(classes, list(excluded_codes))}
    if floodplain is not None:
        constraints["floodplain"] = floodplain > 0
    score = apply_constraints(score, constraints)
    outputs = [score, degradation, quality, *memberships.values()]
    if terrain:
        product = None
        for criterion, terrain_values, full, zero in terrain:
            mu = terrain_membership(criterion, terrain_values.astype(np.float64), full=full, zero=zero)
            product = mu if product is None else product * mu
        outputs[0] = score * product
        outputs.append(product)
    for i, data in enumerate(outputs):
        where_valid(np.asarray(data, dtype=np.float64), valid, out[i])
