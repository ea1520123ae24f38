"""The sensor schema ships with the read-model library: its migrations are found where installed,
and the built wheel carries them (no network: uv's own build backend)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from polystream_readmodels.sensors import SENSOR_MIGRATIONS

ROOT = Path(__file__).resolve().parents[3]


def test_migrations_are_numbered_sql_files_in_order() -> None:
    available = SENSOR_MIGRATIONS.available()
    versions = [version for version, _ in available]
    assert versions and versions == sorted(versions) and versions[0].startswith("0001_")
    assert all(sql.strip() for _, sql in available)
    assert "CREATE TABLE sensor_readings" in available[0][1]


def test_the_wheel_ships_every_migration(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(ROOT / ".cache" / "tools" / "bin" / "uv")
    subprocess.run(
        [uv, "build", "--offline", "--package", "polystream-readmodels", "--wheel", "-o", tmp_path],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("polystream_readmodels-*.whl")
    shipped = sorted(
        Path(name).stem
        for name in zipfile.ZipFile(wheel).namelist()
        if name.startswith("polystream_readmodels/sql/sensors/") and name.endswith(".sql")
    )
    assert shipped == [version for version, _ in SENSOR_MIGRATIONS.available()]
