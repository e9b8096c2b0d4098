"""Statistics shared by rnnlab's table scripts, the same as `src/report/stats.rs` computes: the mean with a 95 %
t-interval, Welch's t-test, Holm's correction (pure Python, no SciPy); and how the scripts print a learning rate."""
import math


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b), by Lentz's continued fraction (Numerical Recipes, 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - betainc(b, a, 1.0 - x)
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log(1.0 - x)) / a
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = tiny if abs(d) < tiny else d
        d = 1.0 / d
        c = 1.0 + num / c
        c = tiny if abs(c) < tiny else c
        f *= c * d
        if abs(1.0 - c * d) < 1e-15:
            break
    return front * (f - 1.0)


def t_sf2(t, df):
    """Two-sided p-value of Student's t with df degrees of freedom."""
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_975(df):
    """The 0.975 quantile of Student's t, by bisection on t_sf2."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_sf2(mid, df) > 0.05:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def finite(xs):
    """The finite values of a sample, in order: diverged seeds (None, NaN, ±inf) left out, as src/report/stats.rs
    leaves them out."""
    return [x for x in xs if x is not None and math.isfinite(x)]


def mean_var(xs):
    """The mean and the sample variance (two-pass, n − 1) of a sample of at least 2 values."""
    m = sum(xs) / len(xs)
    return m, sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def stats(xs):
    """n, mean, sd and the 95 % t-interval of the finite values of xs (None where there are too few for one)."""
    xs = finite(xs)
    n = len(xs)
    if n < 2:
        return {"n": n, "mean": xs[0] if xs else None, "sd": None, "ci95": None}
    mean, var = mean_var(xs)
    sd = math.sqrt(var)
    half = t_975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci95": [mean - half, mean + half]}


def welch(a, b):
    """Welch's t-test on the finite values of a and b: (t, df, two-sided p), or None as src/report/stats.rs gives
    none: a side with fewer than 2 values, or neither side with any spread."""
    a, b = finite(a), finite(b)
    if len(a) < 2 or len(b) < 2:
        return None
    (ma, va), (mb, vb) = mean_var(a), mean_var(b)
    va, vb = va / len(a), vb / len(b)
    if va == 0.0 and vb == 0.0:
        return None
    t = (ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, df, t_sf2(abs(t), df)


def holm(p):
    """Holm-adjusted p-values, in the input order."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    adjusted, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = min(max(running, (len(p) - rank) * p[i]), 1.0)
        adjusted[i] = running
    return adjusted


def short_e(x):
    """A learning rate as the tables print it: 3e-3 rather than 3e-03, 2.5e-4 and 1.25e-4 as they are (three
    significant digits at most)."""
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
