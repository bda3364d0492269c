"""What every wing of gen/ uses: atomic output folders, child processes, families and
cell classes, devices."""
