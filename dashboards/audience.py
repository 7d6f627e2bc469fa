"""Who a dashboard is for: everyone (shared, English, UTC) or one partner in one of its languages.

A partner gets one dashboard set per catalog language (``languages``), all in its time zone and
its folder. The first language keeps the plain partner uids (``rw-overview-rivertown``), so links
and bookmarks made before stay valid; each further language adds its code (``…-rivertown-en``)
and names it in the title, so titles stay distinct inside the partner's folder.

Examples
--------
>>> from riverwatch.catalog import Catalog, Partner
>>> cat = Catalog(partners=[Partner(id="rivertown", name="Rivertown", country="DE",
...                                 languages=["de", "en"], timezone="Europe/Berlin")], stations=[])
>>> [(a.uid("rw-overview"), a.lang, a.timezone) for a in audiences(cat)]
[('rw-overview-rivertown', 'de', 'Europe/Berlin'), ('rw-overview-rivertown-en', 'en', 'Europe/Berlin')]
>>> [a.title("Riverwatch — Overview") for a in audiences(cat)]
['Riverwatch — Overview (Rivertown)', 'Riverwatch — Overview (Rivertown, EN)']
>>> SHARED.uid("rw-overview"), SHARED.title("Riverwatch — Overview"), SHARED.tags
('rw-overview', 'Riverwatch — Overview', ['riverwatch'])
>>> audiences(cat)[1].tags
['riverwatch', 'rivertown', 'lang:en']
"""

from __future__ import annotations

from dataclasses import dataclass

from riverwatch.catalog import Catalog
from dashboards.build import TAG


@dataclass(frozen=True, slots=True)
class Audience:
    """The readers of one dashboard set: ``partner`` (``None``: shared), language and time zone.

    ``primary`` marks the partner's first language, whose uids carry no language code.
    """

    partner: str | None = None
    name: str = ""
    lang: str = "en"
    timezone: str = "utc"
    primary: bool = True

    def uid(self, base: str) -> str:
        """This audience's copy of the dashboard ``base`` (Grafana uids: at most 40 characters)."""
        if self.partner is None:
            return base
        return f"{base}-{self.partner}" if self.primary else f"{base}-{self.partner}-{self.lang}"

    def title(self, title: str) -> str:
        """``title`` with the partner's name, and the language of a non-first-language copy."""
        if self.partner is None:
            return title
        return f"{title} ({self.name})" if self.primary else f"{title} ({self.name}, {self.lang.upper()})"

    @property
    def tags(self) -> list[str]:
        """Dashboard tags: a partner set is also tagged with partner and language, so that its
        links bar (dashboards with all these tags) lists only the same set."""
        return [TAG] if self.partner is None else [TAG, self.partner, f"lang:{self.lang}"]


#: Everyone: the shared folder's English, UTC dashboards.
SHARED = Audience()


def audiences(catalog: Catalog) -> list[Audience]:
    """One audience per partner and catalog language (catalog order, first language first)."""
    return [Audience(p.id, p.name, lang, p.timezone, i == 0)
            for p in catalog.partners for i, lang in enumerate(p.languages)]

