"""The patches stage: habitat patches from suitability, with area, core, quality and capacity."""

from __future__ import annotations

from typing import Any

from habitat.errors import ConfigError
from habitat.params import PatchesParams
from habitat.stages import catalog
from habitat.memory import check_memory
from habitat.stages.spec import StageContext, StageSpec

INPUTS = catalog.layers("suitability", "quality", "populations")
OUTPUTS = catalog.outputs_of("patches")
#: Cells per block of the labelling, the patch table and the outlines: the stage holds one block's
#: temporaries (~40 bytes a cell: 160 MiB here); the int32 label raster is in a temporary file.
BLOCK_SHAPE = (2048, 2048)


def run_patches(ctx: StageContext) -> dict[str, Any]:
    """Threshold suitability, label patches (8- or 4-neighbour), drop small ones, describe them."""
    from habitat.connectivity.populations import site_points
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from habitat.io.strips import DiskGrid
    from habitat.layers import make_layer
    from habitat.suitability.blockwise import label_patches_blockwise
    from habitat.suitability.patches import habitat_mask, patch_polygons, patch_table
    params: PatchesParams = ctx.params  # type: ignore[assignment]
    grid = ctx.grid
    if grid.is_geographic:
        raise ConfigError("grid.crs: the patches stage needs a projected grid in metres (e.g. 'default')")
    check_memory("patches", grid.shape, what="stage patches")
    suit, quality = ctx.inputs["suitability"], ctx.inputs["quality"]
    # labelled block by block (labels merged at block edges; equal to label_patches cell for cell)
    blocks, _ = label_patches_blockwise(
        lambda rows, cols: np.asarray(habitat_mask(np.asarray(suit[rows, cols]), threshold=params.threshold)),
        grid.shape, cell_size_m=grid.cell_size_m, neighbours=params.neighbours,
        min_patch_area_ha=params.min_patch_area_ha, block_shape=BLOCK_SHAPE,
    )
    # the label raster goes to a temporary file block by block; the table, the outlines and the
    # raster writer read it back one window at a time, so it is never whole in memory
    labels = DiskGrid(grid.shape, np.int32)
    for rows, cols, block in blocks:
        labels[rows, cols] = block
    layer = make_layer(labels, grid, name="patch_id", nodata=0)
    sites = None
    if "populations" in ctx.inputs:
        pops = ctx.inputs["populations"]
        xy = site_points(pops)  # a polygon site: its representative point
        sites = pd.DataFrame({"site_id": pops["site_id"].astype(str), "x": xy[:, 0], "y": xy[:, 1]})
    table = patch_table(
        layer, cell_size_m=grid.cell_size_m, suitability=suit, quality=quality,
        edge_depth_m=params.edge_depth_m, density_per_km2=params.density_per_km2,
        usable_area=params.usable_area, sites=sites, block_shape=BLOCK_SHAPE,
    )
    ctx.log(f"{len(table)} patches at suitability >= {params.threshold} and >= {params.min_patch_area_ha} ha")
    if len(table):
        polygons = patch_polygons(layer, crs=grid.pyproj_crs, block_shape=BLOCK_SHAPE)
        polygons = polygons.merge(table, on="patch_id", how="left")
    else:
        polygons = gpd.GeoDataFrame(table.assign(geometry=None), geometry="geometry", crs=grid.pyproj_crs)
    return {"patch_id": layer, "patches": polygons, "patch_table": table}


STAGE = StageSpec(
    id="patches",
    version="1",
    doc="Habitat patches: threshold, 8-neighbour labels, minimum area, core area, quality, capacity.",
    inputs=INPUTS,
    outputs=OUTPUTS,
    params=PatchesParams,
    run=run_patches,
)
