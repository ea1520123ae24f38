"""The Streamlit script of the dashboard: ``streamlit run`` executes it top to bottom on every
page load (``python -m dashboard`` serves it). The layout lives in :mod:`dashboard.layout`, the
queries in :mod:`dashboard.queries`."""

from dashboard.layout import render
from dashboard.settings import DashboardSettings

render(DashboardSettings())
