"""The 32 mock models: light-curve family, Galactic or extragalactic, and parameter ranges.

Ranges are (low, high) drawn uniformly unless noted; magnitudes are absolute AB at 5000 A
rest frame (extragalactic) or apparent r-band means (Galactic); times in rest-frame days.
Light-curve parameters are rough literature values chosen so that classes overlap as real ones
do (SN subtypes share rise times, colours and redshifts), not fits to any data set.

From the published ELAsTiCC2 simulation inputs (SNANA SIMGEN include files of LSSTDESC/elasticc,
``model_config/``, collected in ``../shared/facts/elasticc2_simulation.md``; docs/mock.md cites them
per model): each extragalactic model's redshift range (``z``), volumetric rate law (``rate``,
see ``RATES``), rest-frame epochs simulated around the peak (``trest``), and each Galactic model's
latitude density (``dndb``, see ``sky``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from elasticc_classification.mock.catalog import MODELS

# Latitude densities (SNANA DNDB) of the LCLIB models, from their SIMGEN include files.
DNDB_MDWARF_FLARE = (
    "BPOLY",
    (-3.28230212e-03, 3.01446333e-02, -4.65144034e-03, 3.16808686e-04, -1.20480381e-05,
     2.76898385e-07, -3.92467157e-09, 3.34750950e-11, -1.57113870e-13, 3.10724077e-16),
)  # fmt: skip
DNDB_BULGE = ("BPOLY", (20383.0, -1757.7, 65.293, -1.1885, 0.10405e-01, -0.35119e-04))  # RRL, EB, Mira, uLens
DNDB_DISK = ("BPOLY", (1.001, -5.55555556e-02, 1.23456790e-03, -1.37174211e-05))  # Cepheid, d-Sct, dwarf nova
DNDB_ISOTROPIC = ("COSBPOLY", (1.0,))  # AGN
# Rest-frame days observed around the peak. The published GENRANGE_TREST of the template models is
# -50..300 d, but the real SNIb files hold observations from up to 190 d before to 470 d after the
# peak (rest frame; median 57 and 297 after the season cuts; bench/realism.py), so the mock's window is
# wider by the same amount for every model: template models -120..450, MOSFIT (published -100..500) -170..650.
TREST_TEMPLATES = (-120.0, 450.0)
TREST_MOSFIT = (-170.0, 650.0)


@dataclass(frozen=True)
class Spec:
    """How to simulate one model: ``family`` picks the light-curve code in ``lightcurves``."""

    family: str  # transient | periodic | flare | dwarfnova | ulens | agn
    galactic: bool
    sim_model_name: str
    sim_model_index: int
    type_name: str
    p: dict = field(default_factory=dict)
    host_frac: float = 0.99  # fraction of extragalactic objects with a matched host
    nuclear: bool = False
    rate: tuple = ("CC_S15",)  # volumetric rate law (RATES in lightcurves) and its parameters
    trest: tuple[float, float] = TREST_TEMPLATES  # rest-frame days simulated around the peak
    dndb: tuple | None = None  # Galactic latitude density (sky.latitude_weight); None: extragalactic footprint


SNII_RISE = (0.6, 1.8)  # e-folding of the SN II rise (d): see SNII-NMF
SE_RISE = (2.2, 4.2)  # rise of the stripped-envelope (Ib/c) models (d): see SNIb-Templates


def _sn(
    name: str, type_name: str, rate: tuple = ("CC_S15",), trest: tuple[float, float] = TREST_TEMPLATES, **p
) -> Spec:
    base = dict(
        z=(0.011, 1.5),
        M=(-17.5, 0.8),
        rise=(3.0, 6.0),
        fall=(18.0, 35.0),
        T=(9000.0, 12000.0),
        T_late=5000.0,
        cool=(10.0, 25.0),
        uv=1.5,
    )
    base.update(p)
    return Spec("transient", False, name, 10, type_name, base, rate=rate, trest=trest)


SPECS: dict[str, Spec] = {
    "SNIa-SALT3": _sn(
        "SALT3.P22-NIR",
        "Ia",
        rate=("POWERLAW2", 2.5e-5, 1.5, 9.7e-5, -0.5, 1.0),
        trest=(-170.0, 450.0),  # published -100..300
        z=(0.011, 1.65),
        # Hsiao et al. 2007 spectral template (mock/hsiao.py); SALT2 stretch x1 and colour c from the
        # bifurcated Gaussians of Scolnic & Kessler 2016 (G10, high z) used by ELAsTiCC2; peak
        # M_B = M0 - alpha x1 + beta c (Tripp), alpha 0.14, beta 3.1; M0 -19.3 with 0.12 mag scatter
        template="hsiao",
        x1=(0.973, 1.472, 0.222, -3.0, 2.0),  # peak, sigma below, sigma above, range
        c=(-0.054, 0.043, 0.101, -0.3, 0.5),
        alpha_beta=(0.14, 3.1),
        M=(-19.3, 0.12),
        rise=(3.0, 4.5),  # rise/fall/T/cool: only for the detectable-time bound (the template sets the shape)
        fall=(14.0, 24.0),
        T=(11000.0, 14000.0),
        cool=(12.0, 18.0),
        secmax=(0.25, 0.5),
        uv=2.0,
    ),
    # 1991bg-like: faint, fast and red (Turatto et al. 1996, MNRAS 283, 1: (B-V)max 0.74, B declining
    # 14.6 mag/100 d; Taubenberger et al. 2008, MNRAS 385, 75: rise ~13-15 d, dm15(B) 1.8-2.0). Rest
    # frame (workflow_tests/test_mock_literature.py): B rise 12-16 d, dm15(B) 1.7-2.3, (B-V)max 0.5-0.7
    "SNIa-91bg": _sn(
        "NON1ASED",
        "91bg",
        rate=("POWERLAW", 1.5),
        z=(0.011, 1.2),
        M=(-17.6, 0.4),
        rise=(2.0, 2.6),
        fall=(6.0, 9.0),
        T=(5200.0, 6500.0),
        T_late=4200.0,
        cool=(6.0, 10.0),
        uv=2.5,
    ),
    # SN 2002cx-like: M_V -14 to -18.5, hot photospheres, low velocities (Foley et al. 2013, ApJ 767, 57;
    # Jha 2017, Handbook of Supernovae); rise ~15 d (Magee et al. 2016, A&A 589, A89). Rest frame: B rise
    # 12-19 d, dm15(B) 1.2-1.9, (B-V)max 0.1-0.2
    "SNIax": _sn(
        "NON1ASED",
        "Iax",
        rate=("MD14",),
        z=(0.011, 1.5),
        M=(-16.8, 1.0),
        rise=(2.0, 3.2),
        fall=(7.0, 14.0),
        T=(8500.0, 11000.0),
        cool=(8.0, 14.0),
        uv=2.0,
    ),
    # Ib/c templates: the real SNIb files' true peak r - distance modulus is -17.1 (median of the detected)
    # and its observed colours redder than a 9,000-12,000 K photosphere (true peak g - r 0.7 at z 0.24).
    # Time scales of stripped-envelope SNe: r rise ~15-22 d, dm15(R) ~0.5-0.6 (Drout et al. 2011, ApJ 741,
    # 97; Taddia et al. 2015, A&A 574, A60); rest frame here: r rise 14-25 d, dm15(r) 0.4-0.8. The real
    # SNIb files agree: at a given redshift their detections span less time than the mock's did
    "SNIb-Templates": _sn("NON1ASED", "Ib", M=(-16.7, 0.5), rise=SE_RISE, fall=(13.0, 26.0), T=(6500.0, 8500.0)),
    "SNIb+HostXT_V19": _sn("NON1ASED", "Ib", M=(-17.6, 0.7), rise=SE_RISE, fall=(13.0, 26.0)),
    "SNIc-Templates": _sn("NON1ASED", "Ic", M=(-16.8, 0.5), rise=SE_RISE, fall=(12.0, 24.0), T=(6500.0, 8500.0)),
    "SNIc+HostXT_V19": _sn("NON1ASED", "Ic", M=(-17.7, 0.7), rise=SE_RISE, fall=(12.0, 24.0)),
    "SNIcBL+HostXT_V19": _sn(
        "NON1ASED", "Ic-BL", M=(-18.4, 0.6), rise=(2.5, 4.5), fall=(14.0, 24.0), T=(10000.0, 13000.0)
    ),
    # SNe II rise fast: rest-frame g rise time (first light to the end of the rise, slope < 0.01 mag/d)
    # median 7.5 d, longer in redder bands (Gonzalez-Gaitan et al. 2015, MNRAS 451, 2212); plateau decline
    # ~1.3 mag/100 d (Anderson et al. 2014, ApJ 786, 67)
    "SNII-NMF": _sn(
        "NON1ASED",
        "II",
        z=(0.011, 1.78),
        M=(-16.9, 1.0),
        rise=SNII_RISE,
        plateau=(50.0, 110.0),
        fall=(80.0, 250.0),
        drop=(1.2, 2.8),
        T=(12000.0, 18000.0),
        T_late=5500.0,
        cool=(12.0, 25.0),
    ),
    "SNII-Templates": _sn(
        "NON1ASED",
        "II",
        z=(0.011, 1.8),
        M=(-16.8, 1.0),
        rise=SNII_RISE,
        plateau=(60.0, 120.0),
        fall=(150.0, 400.0),
        drop=(1.5, 3.0),
        T=(12000.0, 18000.0),
        T_late=5500.0,
        cool=(12.0, 25.0),
    ),
    "SNII+HostXT_V19": _sn(
        "NON1ASED",
        "II",
        z=(0.011, 1.8),
        M=(-17.0, 0.9),
        rise=SNII_RISE,
        plateau=(40.0, 110.0),
        fall=(60.0, 300.0),
        drop=(1.0, 2.8),
        T=(12000.0, 18000.0),
        T_late=5500.0,
        cool=(12.0, 25.0),
    ),
    # SNe IIn (PTF, Nyholm et al. 2020, A&A 637, A73): rise times of fast and slow risers 20 +- 6 d and
    # 50 +- 11 d, post-peak declines 0.013 +- 0.006 and 0.040 +- 0.010 mag/d (r)
    "SNIIn-MOSFIT": _sn(
        "NON1ASED",
        "IIn",
        trest=TREST_MOSFIT,
        z=(0.03, 2.2),
        M=(-18.6, 1.0),
        rise=(2.5, 8.0),
        fall=(25.0, 90.0),
        T=(8000.0, 12000.0),
        T_late=6500.0,
        cool=(40.0, 120.0),
        uv=1.0,
    ),
    "SNIIn+HostXT_V19": _sn(
        "NON1ASED",
        "IIn",
        z=(0.011, 1.8),
        M=(-18.3, 1.0),
        rise=(2.0, 7.0),
        fall=(20.0, 80.0),
        T=(8000.0, 12000.0),
        T_late=6500.0,
        cool=(40.0, 120.0),
        uv=1.0,
    ),
    "SNIIb+HostXT_V19": _sn("NON1ASED", "IIb", z=(0.011, 1.8), M=(-17.3, 0.7), fall=(18.0, 32.0), bump=(0.3, 0.9)),
    # SLSNe-I (ZTF phase I, Chen et al. 2023, ApJ 943, 41): rest-frame rise 42 +- 18 d, peak M_g median -21.5
    "SLSN-I+host": _sn(
        "NON1ASED",
        "SLSN-I",
        rate=("MD14",),
        trest=TREST_MOSFIT,
        z=(0.02, 2.95),
        M=(-21.4, 0.7),
        rise=(5.0, 12.0),
        fall=(35.0, 90.0),
        T=(13000.0, 18000.0),
        T_late=7000.0,
        cool=(40.0, 90.0),
        uv=0.6,
    ),
    "TDE": replace(
        _sn(
            "NON1ASED",
            "TDE",
            rate=("TDE", -2.0),
            trest=TREST_MOSFIT,
            z=(0.01, 2.9),
            M=(-19.6, 0.8),
            rise=(5.0, 15.0),
            tpl=(20.0, 60.0),
            T=(20000.0, 40000.0),
            T_late=15000.0,
            cool=(100.0, 300.0),
            uv=0.0,
        ),
        nuclear=True,
    ),
    "ILOT": _sn(
        "NON1ASED",
        "ILOT",
        trest=(-170.0, 1150.0),  # published -100..1000
        z=(0.011, 0.5),
        M=(-12.8, 1.2),
        rise=(2.0, 10.0),
        fall=(15.0, 80.0),
        T=(4000.0, 7000.0),
        T_late=3500.0,
        cool=(20.0, 60.0),
        uv=1.0,
    ),
    # Ca-rich gap transients: peak M -15 to -16.5, rise < 15 d, fast decline, red (Kasliwal et al. 2012,
    # ApJ 755, 161; De et al. 2020, ApJ 905, 58). Rest frame: r rise 10-16 d, dm15(r) 0.5-1.2, g-r 0.2-0.6
    "CART": _sn(
        "NON1ASED",
        "CART",
        rate=("MD14",),
        trest=TREST_MOSFIT,
        z=(0.012, 1.4),
        M=(-15.6, 0.8),
        rise=(1.6, 2.8),
        fall=(10.0, 22.0),
        T=(5000.0, 7500.0),
        T_late=4000.0,
        cool=(20.0, 60.0),
        uv=1.5,
    ),
    "PISN": _sn(
        "NON1ASED",
        "PISN",
        rate=("PISN",),
        z=(0.02, 2.2),
        M=(-20.6, 0.7),
        rise=(25.0, 45.0),
        fall=(100.0, 250.0),
        T=(7000.0, 10000.0),
        T_late=5000.0,
        cool=(100.0, 250.0),
        uv=1.0,
    ),
    "KN_K17": _sn(
        "NON1ASED",
        "KN",
        rate=("POWERLAW", 0.0),
        z=(0.011, 0.28),
        M=(-15.8, 0.7),
        rise=(0.3, 0.7),
        fall=(1.0, 2.5),
        T=(6000.0, 9000.0),
        T_late=2500.0,
        cool=(1.0, 2.5),
        uv=1.0,
    ),
    "KN_B19": _sn(
        "NON1ASED",
        "KN",
        rate=("POWERLAW", 0.0),
        z=(0.011, 0.28),
        M=(-16.0, 0.7),
        rise=(0.3, 0.8),
        fall=(1.2, 3.0),
        T=(7000.0, 10000.0),
        T_late=2500.0,
        cool=(1.2, 3.0),
        uv=1.0,
    ),
    "Mdwarf-flare": Spec(
        "flare",
        True,
        "LCLIB",
        12,
        "m-Dwarf-",
        dict(
            mag=(15.5, 23.5),
            T_star=(2900.0, 3400.0),
            flare_mag=(24.0, 1.5),  # u-band peak: faint limit (mag) and power-law index of N(>F) ~ F^-alpha
            T_flare=(15000.0, 25000.0),
            u_excess=(1.0, 1.8),  # Balmer continuum: u brighter than the blackbody (mag)
            red_frac=0.1,  # share of cool flares (no u excess; their i-band peak follows flare_mag): the
            T_red=(2000.0, 2800.0),  # real files' detections in i/z/Y (11 % Y, 11 % i, 56 % u)
            t_rise=(0.0007, 0.003),
            t_decay=(0.005, 0.05),
        ),
        dndb=DNDB_MDWARF_FLARE,
    ),
    "dwarf-nova": Spec(
        "dwarfnova",
        True,
        "LCLIB",
        12,
        "dwarf-no",
        dict(
            mag=(20.0, 24.5),
            T_star=(5500.0, 8000.0),
            amp=(2.5, 5.0),
            T_out=(10000.0, 15000.0),
            recur=(15.0, 150.0),
            dur=(4.0, 15.0),
        ),
        dndb=DNDB_DISK,
    ),
    "uLens-Single_PyLIMA": Spec(
        "ulens",
        True,
        "LCLIB",
        12,
        "uLens",
        dict(mag=(18.0, 23.5), T_star=(4000.0, 7000.0), tE=(30.0, 0.7), u0=(0.01, 1.0), blend=(0.3, 1.0)),
        dndb=DNDB_BULGE,
    ),
    "uLens-Single-GenLens": Spec(
        "ulens",
        True,
        "LCLIB",
        12,
        "uLens",
        dict(mag=(18.0, 23.5), T_star=(4000.0, 7000.0), tE=(20.0, 0.9), u0=(0.01, 1.0), blend=(0.5, 1.0)),
        dndb=DNDB_BULGE,
    ),
    "uLens-Binary": Spec(
        "ulens",
        True,
        "LCLIB",
        12,
        "uLens",
        dict(
            mag=(18.0, 23.5),
            T_star=(4000.0, 7000.0),
            tE=(30.0, 0.7),
            u0=(0.05, 1.0),
            blend=(0.3, 1.0),
            caustic=(2.0, 15.0),
        ),
        dndb=DNDB_BULGE,
    ),
    "CLAGN": Spec(
        "agn",
        False,
        "LCLIB",
        12,
        "CLAGN",
        dict(z=(0.05, 2.95), mag=(19.5, 23.5), tau=(50.0, 500.0), sf=(0.15, 0.4), jump=(0.5, 1.5), jump_frac=0.7),
        host_frac=0.97,
        nuclear=True,
        rate=("MD14",),
        dndb=DNDB_ISOTROPIC,
    ),
    "RRL": Spec(
        "periodic",
        True,
        "LCLIB",
        12,
        "RRL",
        dict(
            mag=(16.5, 21.5),
            T_star=(6000.0, 7200.0),
            period=(0.3, 0.9),
            amp=(0.4, 1.2),
            shape="saw",
            rise_frac=(0.1, 0.3),
            chroma=0.8,
        ),
        dndb=DNDB_BULGE,
    ),
    "EB": Spec(
        "periodic",
        True,
        "LCLIB",
        12,
        "EB",
        dict(
            mag=(16.5, 22.0),
            T_star=(4000.0, 10000.0),
            period=(0.3, 20.0),
            amp=(0.1, 1.5),
            shape="eb",
            width=(0.02, 0.1),
            chroma=0.1,
        ),
        dndb=DNDB_BULGE,
    ),
    "Cepheid": Spec(
        "periodic",
        True,
        "LCLIB",
        12,
        "Cepheid",
        dict(
            mag=(16.5, 22.0),
            T_star=(5000.0, 6500.0),
            period=(1.0, 50.0),
            amp=(0.3, 1.0),
            shape="saw",
            rise_frac=(0.15, 0.35),
            chroma=0.8,
        ),
        dndb=DNDB_DISK,
    ),
    "d-Sct": Spec(
        "periodic",
        True,
        "LCLIB",
        12,
        "d-Sct",
        dict(mag=(16.5, 21.0), T_star=(6800.0, 8500.0), period=(0.02, 0.25), amp=(0.02, 0.3), shape="sin", chroma=0.5),
        dndb=DNDB_DISK,
    ),
}
# SLSN-I without hosts: the parameters of SLSN-I+host (defined above)
SPECS["SLSN-I_no_host"] = replace(SPECS["SLSN-I+host"], host_frac=0.0)

assert set(SPECS) == set(MODELS), set(SPECS) ^ set(MODELS)
