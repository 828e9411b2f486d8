"""Sectors of the held-out portfolio: how each one's staff, meters and courts behave.

One frozen record per sector, in one table, so that every behavioural
difference the generator builds in (festival shutdown, migrant departures,
churn, seasonal staff, meter coverage, cooling, litigation) can be read side
by side and is dumped into ``truth.json`` as it was used. Figures are monthly
unless said otherwise; the 12-tuples run January to December. They are
modelling choices for a Yangtze-delta manufacturing city (Suzhou), not
measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Sector", "SECTORS", "COOLING", "HEATING", "SUMMER_HEAT"]

Month12 = tuple[float, float, float, float, float, float, float, float, float, float, float, float]
FLAT: Month12 = (1.0,) * 12


@dataclass(frozen=True)
class Sector:
    key: str
    section: str  # GB/T 4754-2017 section letter
    share: float  # of the portfolio
    size_median: float  # insured staff
    size_sigma: float  # lognormal spread of firm size
    leave_rate: float  # median monthly share of staff who leave
    shutdown: tuple[int, int]  # festival closure, days from the festival
    shutdown_depth: float  # share of usage that stops during the closure
    festival_leave: float  # share of staff who do not come back after the festival
    job_hop: float  # extra leavers in the weeks after year-end bonuses are paid
    seasonal_staff: float  # share of firms that staff up for a season
    staff_season: Month12  # target staff of those firms, relative
    production: Month12  # activity behind metered usage
    elec_per_staff: float  # kWh
    water_per_staff: float  # m³
    gas_per_staff: float  # m³
    p_elec: float  # share of firms metered in their own name
    p_water: float
    p_gas: float
    cooling: tuple[float, float]  # range of summer air-conditioning load, relative
    defendant_rate: float  # multiplier on the size-driven base rate of suits as defendant
    plaintiff_rate: float
    penalty_rate: float  # administrative penalties per firm-year
    default_weight: float  # relative propensity to default
    housing_fund: float  # share of firms paying into the housing provident fund
    growth_share: float  # share of firms in a growth phase at some point
    fire_speed: float  # how fast staff above need are let go (labour law makes it slow)


SECTORS: tuple[Sector, ...] = (
    Sector(
        key="manufacturing", section="C", share=0.27, size_median=24, size_sigma=1.15, leave_rate=0.032,
        shutdown=(-10, 12), shutdown_depth=0.72, festival_leave=0.07, job_hop=0.004, seasonal_staff=0.35,
        staff_season=(0.99, 0.97, 0.99, 1.0, 1.0, 1.0, 1.01, 1.02, 1.03, 1.03, 1.02, 1.0),
        production=(1.0, 0.92, 1.02, 1.0, 1.0, 0.98, 0.97, 1.0, 1.04, 1.06, 1.06, 1.03),
        elec_per_staff=2200, water_per_staff=6, gas_per_staff=30, p_elec=0.92, p_water=0.8, p_gas=0.25,
        cooling=(0.05, 0.2), defendant_rate=1.0, plaintiff_rate=1.2, penalty_rate=0.12,
        default_weight=1.0, housing_fund=0.55, growth_share=0.12, fire_speed=0.12,
    ),
    Sector(
        key="construction", section="E", share=0.09, size_median=25, size_sigma=1.2, leave_rate=0.042,
        shutdown=(-18, 18), shutdown_depth=0.8, festival_leave=0.09, job_hop=0.0, seasonal_staff=0.4,
        staff_season=(0.97, 0.93, 1.0, 1.02, 1.03, 1.0, 0.98, 0.99, 1.02, 1.03, 1.03, 1.0),
        production=(0.95, 0.8, 1.0, 1.05, 1.05, 0.95, 0.9, 0.92, 1.05, 1.1, 1.1, 1.03),
        elec_per_staff=350, water_per_staff=8, gas_per_staff=2, p_elec=0.55, p_water=0.5, p_gas=0.02,
        cooling=(0.0, 0.1), defendant_rate=2.5, plaintiff_rate=1.5, penalty_rate=0.25,
        default_weight=1.4, housing_fund=0.5, growth_share=0.1, fire_speed=0.45,
    ),
    Sector(
        key="retail", section="F", share=0.20, size_median=8, size_sigma=1.0, leave_rate=0.038,
        shutdown=(-1, 5), shutdown_depth=0.25, festival_leave=0.035, job_hop=0.005, seasonal_staff=0.3,
        staff_season=(1.04, 0.97, 0.97, 0.98, 0.99, 1.0, 1.0, 1.0, 1.0, 1.01, 1.03, 1.04),
        production=(1.12, 0.98, 0.95, 0.95, 0.97, 1.0, 1.02, 1.02, 0.98, 1.0, 1.08, 1.1),
        elec_per_staff=550, water_per_staff=2.5, gas_per_staff=5, p_elec=0.7, p_water=0.5, p_gas=0.04,
        cooling=(0.3, 0.6), defendant_rate=0.9, plaintiff_rate=1.1, penalty_rate=0.1,
        default_weight=1.2, housing_fund=0.4, growth_share=0.1, fire_speed=0.2,
    ),
    Sector(
        key="logistics", section="G", share=0.07, size_median=20, size_sigma=1.1, leave_rate=0.045,
        shutdown=(-5, 8), shutdown_depth=0.45, festival_leave=0.07, job_hop=0.0, seasonal_staff=0.5,
        staff_season=(0.97, 0.95, 0.97, 0.98, 0.99, 0.99, 1.0, 1.0, 1.01, 1.04, 1.1, 1.08),
        production=(1.05, 0.85, 0.95, 0.95, 0.97, 0.97, 0.97, 0.98, 1.0, 1.03, 1.25, 1.18),
        elec_per_staff=450, water_per_staff=2, gas_per_staff=5, p_elec=0.75, p_water=0.5, p_gas=0.03,
        cooling=(0.05, 0.2), defendant_rate=1.8, plaintiff_rate=0.8, penalty_rate=0.2,
        default_weight=1.1, housing_fund=0.45, growth_share=0.12, fire_speed=0.25,
    ),
    Sector(
        key="catering", section="H", share=0.06, size_median=12, size_sigma=0.9, leave_rate=0.055,
        shutdown=(-2, 6), shutdown_depth=0.3, festival_leave=0.06, job_hop=0.0, seasonal_staff=0.3,
        staff_season=(1.03, 0.97, 0.98, 0.99, 1.0, 1.01, 1.03, 1.03, 1.0, 1.02, 0.99, 1.0),
        production=(1.05, 0.95, 0.95, 0.97, 1.0, 1.02, 1.05, 1.05, 1.0, 1.08, 0.95, 1.0),
        elec_per_staff=1300, water_per_staff=12, gas_per_staff=60, p_elec=0.9, p_water=0.9, p_gas=0.75,
        cooling=(0.25, 0.45), defendant_rate=0.8, plaintiff_rate=0.3, penalty_rate=0.3,
        default_weight=1.3, housing_fund=0.3, growth_share=0.1, fire_speed=0.3,
    ),
    Sector(
        key="software", section="I", share=0.09, size_median=18, size_sigma=1.1, leave_rate=0.017,
        shutdown=(-2, 6), shutdown_depth=0.35, festival_leave=0.008, job_hop=0.03, seasonal_staff=0.0,
        staff_season=FLAT, production=FLAT,
        elec_per_staff=220, water_per_staff=1.5, gas_per_staff=0, p_elec=0.45, p_water=0.35, p_gas=0.0,
        cooling=(0.35, 0.65), defendant_rate=0.6, plaintiff_rate=0.9, penalty_rate=0.02,
        default_weight=0.8, housing_fund=0.85, growth_share=0.25, fire_speed=0.15,
    ),
    Sector(
        key="business_services", section="L", share=0.14, size_median=10, size_sigma=1.0, leave_rate=0.025,
        shutdown=(-3, 7), shutdown_depth=0.35, festival_leave=0.015, job_hop=0.015, seasonal_staff=0.0,
        staff_season=FLAT, production=(1.0,) * 11 + (1.02,),
        elec_per_staff=200, water_per_staff=1.5, gas_per_staff=0, p_elec=0.45, p_water=0.35, p_gas=0.02,
        cooling=(0.35, 0.6), defendant_rate=0.9, plaintiff_rate=1.0, penalty_rate=0.04,
        default_weight=1.0, housing_fund=0.6, growth_share=0.12, fire_speed=0.2,
    ),
    Sector(
        key="resident_services", section="O", share=0.08, size_median=6, size_sigma=0.8, leave_rate=0.04,
        shutdown=(-4, 8), shutdown_depth=0.45, festival_leave=0.05, job_hop=0.0, seasonal_staff=0.0,
        staff_season=FLAT, production=(1.1, 0.95, 0.97, 0.97, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05),
        elec_per_staff=450, water_per_staff=5, gas_per_staff=5, p_elec=0.65, p_water=0.6, p_gas=0.1,
        cooling=(0.2, 0.45), defendant_rate=0.7, plaintiff_rate=0.5, penalty_rate=0.12,
        default_weight=1.2, housing_fund=0.2, growth_share=0.08, fire_speed=0.3,
    ),
)
assert abs(sum(s.share for s in SECTORS) - 1.0) < 1e-9

# Air-conditioning load of a Yangtze-delta summer, and heating in the damp winter (no central heating
# south of the Huai river), 0..1 by calendar month.
COOLING: Month12 = (0.0, 0.0, 0.0, 0.0, 0.15, 0.45, 1.0, 0.95, 0.4, 0.05, 0.0, 0.0)
HEATING: Month12 = (1.0, 0.7, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8)
# Summers differ: a hot one raises cooling load for everybody, so last year's August is no exact baseline.
SUMMER_HEAT: dict[int, float] = {2021: 1.0, 2022: 1.25, 2023: 1.0, 2024: 1.2, 2025: 0.95, 2026: 1.05, 2027: 1.0}
