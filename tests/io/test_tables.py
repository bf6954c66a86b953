import time
import zipfile

import numpy as np
import pandas as pd

from habitat.io.tables import read_table, write_table, write_workbook


def test_workbook_round_trip_and_byte_identical(tmp_path):
    df = pd.DataFrame({"unit": ["AA", "BB"], "area_ha": [12.5, np.nan], "year": [2000, 2020]})
    a = write_workbook(df, tmp_path / "a" / "t.xlsx", sheet="national_report")
    time.sleep(1.1)  # openpyxl would stamp a different time
    b = write_workbook(df, tmp_path / "b" / "t.xlsx", sheet="national_report")
    assert a.read_bytes() == b.read_bytes()
    back = pd.read_excel(a, sheet_name="national_report")
    pd.testing.assert_frame_equal(back, df)
    core = zipfile.ZipFile(a).read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core and core.count("2000-01-01T00:00:00Z") == 2


def test_csv_has_unix_line_ends_and_no_index(tmp_path):
    path = write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.csv")
    assert path.read_bytes() == b"a\n1\n2\n"


def test_read_table_keeps_identifiers_as_text(tmp_path):
    # Site and unit ids are text: "01" must come back as "01", not as the number 1, or a
    # downstream stage matching ids against the populations layer finds nothing.
    df = pd.DataFrame({"from_site": ["01", "02"], "to_site": ["02", "10"], "site_id": ["007", "1"],
                       "unit_id": ["04", "05"], "sites": ["01;02", "3"], "lcd": [1.5, 2.0], "count": [3, 4]})
    back = read_table(write_table(df, tmp_path / "t.csv"))
    pd.testing.assert_frame_equal(back, df)
