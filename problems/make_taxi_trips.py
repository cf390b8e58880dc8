"""Generate problems/taxi_trips.csv, the synthetic trip table used by taxi.dop.

Each row is one taxi trip: the distance driven (km) and how long it took
(minutes). Trips are drawn reproducibly from a fixed NumPy seed:

- distances are log-normal (median about 4 km, a long tail of airport runs),
  rounded to 10 m like a taximeter;
- every trip has its own average speed, normal around 30 km/h (sd 3.5 km/h,
  kept within 18-45 km/h): traffic lights and congestion differ per trip;
- the duration is distance / speed plus a little timing noise (sd 0.4 min),
  rounded to a tenth of a minute and at least one minute.

Run from anywhere: ``python problems/make_taxi_trips.py`` rewrites the CSV next
to this script; running it again gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 20240607
N_TRIPS = 500
OUT = Path(__file__).resolve().parent / "taxi_trips.csv"


def make_trips(n: int = N_TRIPS, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Return (distance_km, duration_min) of ``n`` synthetic trips."""
    rng = np.random.default_rng(seed)
    distance = np.clip(rng.lognormal(mean=np.log(4.0), sigma=0.6, size=n), 0.5, 30.0)
    distance = np.round(distance, 2)
    speed = np.clip(rng.normal(30.0, 3.5, size=n), 18.0, 45.0)  # km/h, one per trip
    duration = 60.0 * distance / speed + rng.normal(0.0, 0.4, size=n)
    duration = np.maximum(np.round(duration, 1), 1.0)
    return distance, duration


def main() -> None:
    distance, duration = make_trips()
    lines = ["distance_km,duration_min"]
    lines += [f"{d:.2f},{t:.1f}" for d, t in zip(distance, duration, strict=True)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(distance)} trips to {OUT}")


if __name__ == "__main__":
    main()
