"""What the drives achieved: visit outcomes, the dashboards' figures and the report files."""
