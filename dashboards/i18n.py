"""Dashboard texts in every language a partner uses (English, German, French).

Texts live here, inside ``dashboards/`` (the kernel knows no message catalogs). A partner gets
its dashboards in each of its catalog languages (:mod:`dashboards.audience`);
:func:`missing_translations` lists the gaps so that a test fails instead of Grafana showing a
blank title.

Examples
--------
>>> text("station.title", "de")
'Riverwatch — Messstelle'
>>> text("station.title", "xx")
Traceback (most recent call last):
...
KeyError: "no 'xx' text for 'station.title'"
>>> missing_translations(["en", "de", "fr"])
[]
"""

from __future__ import annotations

from typing import Collection, Iterable

#: key -> language -> text.
TEXTS: dict[str, dict[str, str]] = {
    "station.title": {"en": "Riverwatch — Station", "de": "Riverwatch — Messstelle",
                      "fr": "Riverwatch — Station"},
    "station.description": {
        "en": "One station: readings against thresholds, QC flags, detector scores, forecast "
              "crossings, warnings.",
        "de": "Eine Messstelle: Messwerte und Schwellen, QC-Kennungen, Detektorwerte, "
              "prognostizierte Überschreitungen, Warnungen.",
        "fr": "Une station : mesures et seuils, indicateurs QC, scores des détecteurs, "
              "dépassements prévus, alertes."},
    "var.partner": {"en": "Partner", "de": "Partner", "fr": "Partenaire"},
    "var.station": {"en": "Station", "de": "Messstelle", "fr": "Station"},
    "var.quantity": {"en": "Quantity", "de": "Messgröße", "fr": "Grandeur"},
    "panel.state": {"en": "State", "de": "Zustand", "fr": "État"},
    "panel.last_reading": {"en": "Last reading", "de": "Letzter Messwert", "fr": "Dernière mesure"},
    "panel.open_warnings": {"en": "Open warnings", "de": "Offene Warnungen", "fr": "Alertes en cours"},
    "panel.crossing": {"en": "Forecast threshold crossing", "de": "Prognostizierte Schwellenüberschreitung",
                       "fr": "Dépassement de seuil prévu"},
    "panel.crossing.description": {
        "en": "When the detector expects the next threshold to be crossed.",
        "de": "Wann der Detektor die nächste Schwellenüberschreitung erwartet.",
        "fr": "Quand le détecteur prévoit le prochain dépassement de seuil."},
    "panel.readings.description": {
        "en": "{quantity}; bands: advisory, watch, warning, emergency (catalog).",
        "de": "{quantity}; Bänder: Vorinformation, Vorwarnung, Warnung, Notfall (Katalog).",
        "fr": "{quantity} ; bandes : vigilance, veille, alerte, urgence (catalogue)."},
    "panel.lead_time": {"en": "Lead time", "de": "Vorwarnzeit", "fr": "Délai d'anticipation"},
    "row.readings": {"en": "Readings: {kind}", "de": "Messwerte: {kind}", "fr": "Mesures : {kind}"},
    "row.quality": {"en": "Quality and detectors", "de": "Qualität und Detektoren",
                    "fr": "Qualité et détecteurs"},
    "panel.qc": {"en": "QC flags", "de": "QC-Kennungen", "fr": "Indicateurs QC"},
    "panel.qc.description": {
        "en": "QARTOD: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing.",
        "de": "QARTOD: 1 gut, 2 nicht geprüft, 3 zweifelhaft, 4 schlecht, 9 fehlend.",
        "fr": "QARTOD : 1 bon, 2 non évalué, 3 douteux, 4 mauvais, 9 manquant."},
    "panel.scores": {"en": "Detector scores", "de": "Detektorwerte", "fr": "Scores des détecteurs"},
    "panel.levels": {"en": "Detector decision levels", "de": "Entscheidungsstufen der Detektoren",
                     "fr": "Niveaux de décision des détecteurs"},
    "panel.warning_events": {"en": "Warning events", "de": "Warnereignisse", "fr": "Événements d'alerte"},
    "annotation.warnings": {"en": "Warnings", "de": "Warnungen", "fr": "Alertes"},
    "annotation.reviews": {"en": "After-action reviews", "de": "Nachbetrachtungen", "fr": "Retours d'expérience"},
    "panel.warning_events.description": {
        "en": "Newest first; level names coloured.",
        "de": "Neueste zuerst; Stufen farbig.",
        "fr": "Les plus récents d'abord ; niveaux en couleur."},
    "none": {"en": "none", "de": "keine", "fr": "aucune"},
    "overview.title": {"en": "Riverwatch — Overview", "de": "Riverwatch — Übersicht",
                       "fr": "Riverwatch — Vue d'ensemble"},
    "overview.description": {
        "en": "Every station: current state, open warnings, data freshness.",
        "de": "Alle Messstellen: aktueller Zustand, offene Warnungen, Aktualität der Daten.",
        "fr": "Toutes les stations : état actuel, alertes en cours, fraîcheur des données."},
    "panel.stations": {"en": "Stations per partner", "de": "Messstellen je Partner",
                       "fr": "Stations par partenaire"},
    "panel.alerting": {"en": "Stations at advisory or above", "de": "Messstellen ab Vorinformation",
                       "fr": "Stations en vigilance ou plus"},
    "panel.warnings_per_partner": {"en": "Open warnings per partner", "de": "Offene Warnungen je Partner",
                                   "fr": "Alertes en cours par partenaire"},
    "panel.map": {"en": "Stations", "de": "Messstellen", "fr": "Stations"},
    "panel.map.description": {
        "en": "Colour: normal, suspect sensor, advisory, watch, warning, emergency. Click a station "
              "for its dashboard. Stations without a state in the last 5 minutes are not shown.",
        "de": "Farbe: normal, Sensor zweifelhaft, Vorinformation, Vorwarnung, Warnung, Notfall. Klick "
              "auf eine Messstelle öffnet ihr Dashboard. Ohne Zustand seit 5 Minuten nicht angezeigt.",
        "fr": "Couleur : normal, capteur douteux, vigilance, veille, alerte, urgence. Cliquer sur une "
              "station ouvre son tableau de bord. Sans état depuis 5 minutes, elle n'est pas affichée."},
    "panel.freshness": {"en": "Data freshness (seconds since last reading)",
                        "de": "Aktualität (Sekunden seit letztem Messwert)",
                        "fr": "Fraîcheur (secondes depuis la dernière mesure)"},
    "panel.open_warnings.description": {
        "en": "Every warning whose latest event is not an all-clear.",
        "de": "Jede Warnung, deren letztes Ereignis keine Entwarnung ist.",
        "fr": "Toute alerte dont le dernier événement n'est pas une levée."},
    "panel.acks": {"en": "Acknowledgements and reminders", "de": "Quittungen und Erinnerungen",
                   "fr": "Accusés de réception et rappels"},
    "panel.acks.description": {
        "en": "Who acknowledged which warning and how long after it was raised; reminders of warnings "
              "nobody acknowledged in time.",
        "de": "Wer welche Warnung quittiert hat und wie lange nach ihrer Auslösung; Erinnerungen an "
              "Warnungen, die niemand rechtzeitig quittiert hat.",
        "fr": "Qui a accusé réception de quelle alerte, et combien de temps après son déclenchement ; "
              "rappels des alertes dont personne n'a accusé réception à temps."},
    "no_data": {"en": "no data", "de": "keine Daten", "fr": "pas de données"},
    # Detectors dashboard
    "detectors.title": {"en": "Riverwatch — Detectors", "de": "Riverwatch — Detektoren",
                        "fr": "Riverwatch — Détecteurs"},
    "detectors.description": {
        "en": "Detector scores and decisions side by side, warnings per detector, evaluation.",
        "de": "Detektorwerte und Entscheidungen nebeneinander, Warnungen je Detektor, Bewertung.",
        "fr": "Scores et décisions des détecteurs côte à côte, alertes par détecteur, évaluation."},
    "panel.warnings_per_detector": {"en": "Warnings raised per detector", "de": "Ausgelöste Warnungen je Detektor",
                                    "fr": "Alertes émises par détecteur"},
    "panel.warnings_per_day": {"en": "Warnings raised per day", "de": "Ausgelöste Warnungen pro Tag",
                               "fr": "Alertes émises par jour"},
    "panel.evaluation": {"en": "Latest evaluation results", "de": "Neueste Bewertungsergebnisse",
                         "fr": "Derniers résultats d'évaluation"},
    "panel.evaluation.description": {
        "en": "Written by the evaluation harness (measurement evaluation).",
        "de": "Vom Bewertungswerkzeug geschrieben (Measurement evaluation).",
        "fr": "Écrits par l'outil d'évaluation (mesure evaluation)."},
    "panel.detector_score": {"en": "{detector}: score", "de": "{detector}: Wert", "fr": "{detector} : score"},
    "panel.detector_level": {"en": "{detector}: decision level", "de": "{detector}: Entscheidungsstufe",
                             "fr": "{detector} : niveau de décision"},
    # Pipeline health dashboard
    "pipeline.title": {"en": "Riverwatch — Pipeline health", "de": "Riverwatch — Zustand der Pipeline",
                       "fr": "Riverwatch — État du pipeline"},
    "pipeline.description": {
        "en": "Ingest throughput, rejects by reason, write lag, disk spool, broker connection, backlog "
              "and overload.",
        "de": "Durchsatz, Zurückweisungen nach Grund, Schreibverzug, Plattenpuffer, Broker-Verbindung, "
              "Rückstau und Überlast.",
        "fr": "Débit d'ingestion, rejets par motif, retard d'écriture, tampon disque, connexion au broker, "
              "file d'attente et surcharge."},
    "panel.heartbeat": {"en": "Pipeline heartbeat", "de": "Lebenszeichen der Pipeline",
                        "fr": "Signal de vie du pipeline"},
    "panel.heartbeat.description": {
        "en": "Heartbeats each worker wrote in the last {minutes} minutes. None: the pipeline is dead or "
              "cannot store (the rw-heartbeat alert rule fires).",
        "de": "Lebenszeichen je Worker in den letzten {minutes} Minuten. Keines: die Pipeline ist "
              "ausgefallen oder kann nicht speichern (die Alarmregel rw-heartbeat löst aus).",
        "fr": "Signaux de vie écrits par chaque worker ces {minutes} dernières minutes. Aucun : le "
              "pipeline est arrêté ou ne peut plus écrire (la règle d'alerte rw-heartbeat se déclenche)."},
    "no_heartbeat": {"en": "NO HEARTBEAT", "de": "KEIN LEBENSZEICHEN", "fr": "AUCUN SIGNAL DE VIE"},
    "no_worker": {"en": "no worker", "de": "kein Worker", "fr": "aucun worker"},
    "panel.readings_now": {"en": "Readings/s", "de": "Messwerte/s", "fr": "Mesures/s"},
    "panel.rejects": {"en": "Rejects", "de": "Zurückweisungen", "fr": "Rejets"},
    "panel.write_lag": {"en": "Write lag", "de": "Schreibverzug", "fr": "Retard d'écriture"},
    "panel.spooled": {"en": "Spooled", "de": "Gepuffert", "fr": "En tampon"},
    "panel.broker": {"en": "Broker connection", "de": "Broker-Verbindung", "fr": "Connexion au broker"},
    "panel.readings_per_second": {"en": "Readings per second", "de": "Messwerte pro Sekunde",
                                  "fr": "Mesures par seconde"},
    "panel.rejects_by_reason": {"en": "Rejects by reason", "de": "Zurückweisungen nach Grund",
                                "fr": "Rejets par motif"},
    "panel.spool_depth": {"en": "Spool depth", "de": "Pufferfüllstand", "fr": "Remplissage du tampon"},
    "panel.spool_segments": {"en": "Spool segments", "de": "Puffersegmente", "fr": "Segments du tampon"},
    "panel.rejects_table": {"en": "Rejects by partner and reason", "de": "Zurückweisungen nach Partner und Grund",
                            "fr": "Rejets par partenaire et motif"},
    "panel.rejects_table.description": {
        "en": "Totals per partner and reason; the second frame lists the latest rejects with their detail "
              "and topic.",
        "de": "Summen je Partner und Grund; der zweite Frame listet die letzten Zurückweisungen mit Detail "
              "und Topic.",
        "fr": "Totaux par partenaire et motif ; la deuxième trame liste les derniers rejets avec leur "
              "détail et leur topic."},
    "panel.backlog": {"en": "Backlog and overload", "de": "Rückstau und Überlast",
                      "fr": "File d'attente et surcharge"},
    "panel.backlog.description": {
        "en": "Messages received and not yet durable (deepest per interval), the InfluxDB writer's share, "
              "and QoS 0 messages dropped because the backlog was full. The backlog never exceeds "
              "ingest.max_queue; QoS 0 is dropped from mqtt.receive_maximum below it (room kept for QoS 1). "
              "A backlog at the bound with drops: InfluxDB is slower than the incoming data, or down with "
              "the spool full.",
        "de": "Empfangene, noch nicht dauerhaft gespeicherte Nachrichten (tiefster Stand je Intervall), "
              "der Anteil des InfluxDB-Schreibers und QoS-0-Nachrichten, die bei vollem Rückstau verworfen "
              "wurden. Der Rückstau übersteigt nie ingest.max_queue; QoS 0 wird ab mqtt.receive_maximum "
              "darunter verworfen (Platz für QoS 1). Rückstau an der Grenze mit Verwerfungen: InfluxDB ist "
              "langsamer als die ankommenden Daten oder ausgefallen bei vollem Puffer.",
        "fr": "Messages reçus et pas encore durables (maximum par intervalle), la part de l'écriture "
              "InfluxDB, et messages QoS 0 abandonnés faute de place. La file ne dépasse jamais "
              "ingest.max_queue ; le QoS 0 est abandonné à partir de mqtt.receive_maximum en dessous "
              "(place gardée pour le QoS 1). File au maximum avec abandons : InfluxDB est plus lent que les "
              "données entrantes, ou arrêté avec le tampon plein."},
    "series.backlog": {"en": "backlog", "de": "Rückstau", "fr": "file d'attente"},
    "series.writer": {"en": "writer", "de": "Schreiber", "fr": "écriture"},
    "series.dropped": {"en": "QoS 0 dropped", "de": "QoS 0 verworfen", "fr": "QoS 0 abandonnés"},
    # table headers
    "column.level": {"en": "level", "de": "Stufe", "fr": "niveau"},
    "column.partner": {"en": "partner", "de": "Partner", "fr": "partenaire"},
    "column.station": {"en": "station", "de": "Messstelle", "fr": "station"},
    "column.hazard": {"en": "hazard", "de": "Gefahr", "fr": "danger"},
    "column.since": {"en": "since", "de": "seit", "fr": "depuis"},
    "column.message": {"en": "message", "de": "Meldung", "fr": "message"},
    "column.evidence": {"en": "evidence", "de": "Nachweis", "fr": "éléments"},
    "column.detector": {"en": "detector", "de": "Detektor", "fr": "détecteur"},
    "column.updated": {"en": "updated", "de": "aktualisiert", "fr": "mis à jour"},
    "column.id": {"en": "id", "de": "ID", "fr": "id"},
    "column.kind": {"en": "kind", "de": "Art", "fr": "type"},
    "column.by": {"en": "by", "de": "von", "fr": "par"},
    "column.role": {"en": "role", "de": "Rolle", "fr": "rôle"},
    "column.after_min": {"en": "after (min)", "de": "nach (min)", "fr": "après (min)"},
    "column.action": {"en": "action taken", "de": "Maßnahme", "fr": "mesure prise"},
    "column.comment": {"en": "comment", "de": "Kommentar", "fr": "commentaire"},
    "column.time": {"en": "time", "de": "Zeit", "fr": "heure"},
    "column.dataset": {"en": "dataset", "de": "Datensatz", "fr": "jeu de données"},
    "column.precision": {"en": "precision", "de": "Präzision", "fr": "précision"},
    "column.recall": {"en": "recall", "de": "Trefferquote", "fr": "rappel"},
    "column.lead_time_median_minutes": {"en": "lead time median (min)", "de": "Vorwarnzeit, Median (min)",
                                        "fr": "délai d'anticipation médian (min)"},
    "column.false_warnings_per_day": {"en": "false warnings per day", "de": "Fehlwarnungen pro Tag",
                                      "fr": "fausses alertes par jour"},
    "column.nab_standard": {"en": "NAB standard", "de": "NAB Standard", "fr": "NAB standard"},
    "column.state": {"en": "state", "de": "Status", "fr": "statut"},
    "column.quantity": {"en": "quantity", "de": "Messgröße", "fr": "grandeur"},
    "column.value": {"en": "value", "de": "Wert", "fr": "valeur"},
    "column.threshold": {"en": "threshold", "de": "Schwelle", "fr": "seuil"},
    "column.score": {"en": "score", "de": "Detektorwert", "fr": "score"},
    "column.reason": {"en": "reason", "de": "Grund", "fr": "motif"},
    "column.detail": {"en": "detail", "de": "Detail", "fr": "détail"},
    "column.topic": {"en": "topic", "de": "Topic", "fr": "topic"},
    "column.rejects": {"en": "rejects", "de": "Zurückweisungen", "fr": "rejets"},
    "column.to": {"en": "shared with", "de": "geteilt mit", "fr": "partagé avec"},
    "column.owner": {"en": "data of", "de": "Daten von", "fr": "données de"},
    "column.agreement": {"en": "agreement", "de": "Vereinbarung", "fr": "accord"},
    "column.points": {"en": "points", "de": "Punkte", "fr": "points"},
    "column.from": {"en": "from", "de": "von", "fr": "du"},
    "column.until": {"en": "until", "de": "bis", "fr": "au"},
    "column.delay_s": {"en": "delay (s)", "de": "Verzögerung (s)", "fr": "délai (s)"},
    "panel.shared": {"en": "Shared with partners (points)", "de": "Mit Partnern geteilt (Punkte)",
                     "fr": "Partagé avec les partenaires (points)"},
    "panel.shared.description": {
        "en": "Points the sharing sink wrote into each partner's own database, per agreement: what the partner's "
              "dashboards can see. 'own' is the partner's own data.",
        "de": "Punkte, die die Teilungsstufe in die eigene Datenbank jedes Partners schrieb, je Vereinbarung: was "
              "die Dashboards des Partners sehen. „own“ sind die eigenen Daten des Partners.",
        "fr": "Points écrits par le partage dans la base de chaque partenaire, par accord : ce que ses tableaux de "
              "bord peuvent voir. « own » : les propres données du partenaire."},
    "panel.sharing_audit": {"en": "What was shared, with whom, under which agreement",
                            "de": "Was mit wem unter welcher Vereinbarung geteilt wurde",
                            "fr": "Ce qui a été partagé, avec qui, sous quel accord"},
    "panel.sharing_audit.description": {
        "en": "The sharing audit (measurement sharing_audit): every copy into a partner's database, the span of "
              "data it covered (from, until) and the agreement's delay.",
        "de": "Das Teilungsprotokoll (Messung sharing_audit): jede Kopie in die Datenbank eines Partners, der "
              "abgedeckte Datenzeitraum (von, bis) und die Verzögerung der Vereinbarung.",
        "fr": "Le journal du partage (mesure sharing_audit) : chaque copie dans la base d'un partenaire, la période "
              "de données couverte (du, au) et le délai de l'accord."},
    # station kinds and quantities (English labels as in riverwatch.units)
    "kind.river_gauge": {"en": "river gauge", "de": "Pegel", "fr": "station hydrométrique"},
    "kind.water_quality": {"en": "water quality", "de": "Wasserqualität", "fr": "qualité de l'eau"},
    "kind.weather": {"en": "weather", "de": "Wetter", "fr": "météo"},
    "quantity.water_level": {"en": "River stage", "de": "Wasserstand", "fr": "Hauteur d'eau"},
    "quantity.discharge": {"en": "Discharge", "de": "Abfluss", "fr": "Débit"},
    "quantity.water_temperature": {"en": "Water temperature", "de": "Wassertemperatur",
                                   "fr": "Température de l'eau"},
    "quantity.air_temperature": {"en": "Air temperature", "de": "Lufttemperatur", "fr": "Température de l'air"},
    "quantity.dew_point": {"en": "Dew point", "de": "Taupunkt", "fr": "Point de rosée"},
    "quantity.relative_humidity": {"en": "Relative humidity", "de": "Relative Luftfeuchte",
                                   "fr": "Humidité relative"},
    "quantity.air_pressure": {"en": "Air pressure", "de": "Luftdruck", "fr": "Pression atmosphérique"},
    "quantity.wind_speed": {"en": "Wind speed", "de": "Windgeschwindigkeit", "fr": "Vitesse du vent"},
    "quantity.precipitation": {"en": "Precipitation in the interval", "de": "Niederschlag im Intervall",
                               "fr": "Précipitations sur l'intervalle"},
    "quantity.turbidity": {"en": "Turbidity", "de": "Trübung", "fr": "Turbidité"},
    "quantity.conductivity": {"en": "Specific conductance", "de": "Spezifische Leitfähigkeit",
                              "fr": "Conductivité spécifique"},
    "quantity.ph": {"en": "pH", "de": "pH-Wert", "fr": "pH"},
    "quantity.redox": {"en": "Redox potential", "de": "Redoxpotential", "fr": "Potentiel redox"},
    "quantity.chlorine": {"en": "Free chlorine", "de": "Freies Chlor", "fr": "Chlore libre"},
    "quantity.dissolved_oxygen": {"en": "Dissolved oxygen", "de": "Gelöster Sauerstoff",
                                  "fr": "Oxygène dissous"},
    "quantity.battery": {"en": "Battery voltage", "de": "Batteriespannung", "fr": "Tension de la batterie"},
    # value mappings (station states, warning levels, QARTOD flags), keyed by their English name
    "value.none": {"en": "none", "de": "keine", "fr": "aucun"},
    "value.normal": {"en": "normal", "de": "normal", "fr": "normal"},
    "value.suspect sensor": {"en": "suspect sensor", "de": "Sensor zweifelhaft", "fr": "capteur douteux"},
    "value.advisory": {"en": "advisory", "de": "Vorinformation", "fr": "vigilance"},
    "value.watch": {"en": "watch", "de": "Vorwarnung", "fr": "veille"},
    "value.warning": {"en": "warning", "de": "Warnung", "fr": "alerte"},
    "value.emergency": {"en": "emergency", "de": "Notfall", "fr": "urgence"},
    "value.pass": {"en": "pass", "de": "gut", "fr": "bon"},
    "value.not evaluated": {"en": "not evaluated", "de": "nicht geprüft", "fr": "non évalué"},
    "value.suspect": {"en": "suspect", "de": "zweifelhaft", "fr": "douteux"},
    "value.fail": {"en": "fail", "de": "schlecht", "fr": "mauvais"},
    "value.missing": {"en": "missing", "de": "fehlend", "fr": "manquant"},
    "value.disconnected": {"en": "disconnected", "de": "getrennt", "fr": "déconnecté"},
    "value.connected": {"en": "connected", "de": "verbunden", "fr": "connecté"},
}

#: Languages every text must exist in.
LANGUAGES = ("en", "de", "fr")


def text(key: str, lang: str, **values: str) -> str:
    """The text ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``.

    Raises ``KeyError`` when the key or its translation is missing (never a blank title).
    """
    translations = TEXTS[key]
    if lang not in translations:
        raise KeyError(f"no {lang!r} text for {key!r}")
    return translations[lang].format(**values) if values else translations[lang]


def localised(values: Iterable[tuple[int, str, str]], lang: str) -> list[tuple[int, str, str]]:
    """``(value, name, colour)`` mapping triples with each English name in ``lang``.

    >>> localised([(4, "warning", "red")], "de")
    [(4, 'Warnung', 'red')]
    """
    return [(value, text(f"value.{name}", lang), colour) for value, name, colour in values]


def missing_translations(languages: Collection[str]) -> list[tuple[str, str]]:
    """``(key, language)`` pairs without a text, for the languages given."""
    return [(key, lang) for key, texts in TEXTS.items() for lang in languages if lang not in texts]


def headers(names: Iterable[str], lang: str) -> dict[str, str]:
    """Table header renames (an ``organize`` transformation's ``renameByName``) in ``lang``.

    >>> headers(["reason", "topic"], "de")
    {'reason': 'Grund', 'topic': 'Topic'}
    """
    return {name: text(f"column.{name}", lang) for name in names}
