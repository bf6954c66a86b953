"""Maps, figures, QGIS styles and the offline HTML report (pure builders: data in, bytes out)."""
