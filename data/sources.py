"""Small source tables of the sample territory: places, names, zone types with their regulations.

All of it is fictitious and only plausible: plan names, decree numbers, titles and owners are invented.
"""

from __future__ import annotations

# (code, name, préfecture, conservation suffix of its land titles)
ARRONDISSEMENTS = [
    ("ANFA", "Anfa", "Casablanca-Anfa", "C"),
    ("MAARIF", "Maârif", "Casablanca-Anfa", "D"),
    ("SIDI-BELYOUT", "Sidi Belyout", "Casablanca-Anfa", "C"),
    ("AIN-SEBAA", "Aïn Sebaâ", "Aïn Sebaâ-Hay Mohammadi", "47"),
    ("HAY-MOHAMMADI", "Hay Mohammadi", "Aïn Sebaâ-Hay Mohammadi", "47"),
    ("ROCHES-NOIRES", "Roches Noires", "Aïn Sebaâ-Hay Mohammadi", "C"),
    ("AL-FIDA", "Al Fida", "Al Fida-Mers Sultan", "D"),
    ("MERS-SULTAN", "Mers Sultan", "Al Fida-Mers Sultan", "D"),
    ("AIN-CHOCK", "Aïn Chock", "Aïn Chock", "63"),
    ("HAY-HASSANI", "Hay Hassani", "Hay Hassani", "63"),
    ("BEN-MSICK", "Ben M'Sick", "Ben M'Sick", "D"),
    ("SBATA", "Sbata", "Ben M'Sick", "D"),
    ("MOULAY-RACHID", "Moulay Rachid", "Moulay Rachid", "D"),
    ("SIDI-OTHMANE", "Sidi Othmane", "Moulay Rachid", "D"),
    ("SIDI-BERNOUSSI", "Sidi Bernoussi", "Sidi Bernoussi", "47"),
    ("SIDI-MOUMEN", "Sidi Moumen", "Sidi Bernoussi", "47"),
]

# Zone mix of each arrondissement (by position in ARRONDISSEMENTS, cycling).
ARCHETYPES = [
    {"V1": 0.22, "V2": 0.30, "D": 0.20, "C": 0.15, "B": 0.05, "ZV": 0.08},  # residential, villas
    {"D": 0.30, "C": 0.30, "B": 0.20, "E": 0.10, "V2": 0.07, "ZV": 0.03},  # dense residential
    {"B": 0.35, "C": 0.30, "D": 0.20, "E": 0.10, "ZV": 0.05},  # centre
    {"I": 0.35, "ZAE": 0.20, "E": 0.25, "D": 0.15, "ZV": 0.05},  # industrial
]

USES_HOUSING = ["habitation", "commerce de proximité", "bureaux", "équipements de quartier"]
CLASSES = ["établissement classé 1re catégorie", "établissement classé 2e catégorie"]

# Regulations in the ranges Moroccan plans use. "frontage" is the typical frontage of the generator's parcels.
ZONE_TYPES: dict[str, dict] = {
    "V1": dict(label="Zone de villas isolées", dominant_use="habitat individuel", height_max_m=8.5, storeys_max=1,
               footprint_max_pct=25, cos_value=0.5, cos_meaning="plancher", min_plot_area_m2=800,
               min_frontage_m=25, setback_road_m=6, setback_side_m=5, setback_rear_m=5, continuous_frontage=False,
               uses_allowed=["habitation individuelle"], uses_conditional=["profession libérale"],
               uses_forbidden=["commerce", "industrie", "établissement classé"], frontage=(22, 32)),
    "V2": dict(label="Zone de villas jumelées", dominant_use="habitat individuel", height_max_m=11.5, storeys_max=2,
               footprint_max_pct=40, cos_value=0.8, cos_meaning="plancher", min_plot_area_m2=300,
               min_frontage_m=15, setback_road_m=4, setback_side_m=3, setback_rear_m=4, continuous_frontage=False,
               uses_allowed=["habitation individuelle"], uses_conditional=["commerce de proximité"],
               uses_forbidden=["industrie", "établissement classé"], frontage=(14, 20)),
    "E": dict(label="Zone d'habitat économique", dominant_use="habitat", height_max_m=15.5, storeys_max=3,
              footprint_max_pct=80, cus_value=3.2, cus_meaning="plancher", min_plot_area_m2=80, min_frontage_m=8,
              setback_road_m=0, setback_side_m=0, setback_rear_m=3, continuous_frontage=True,
              uses_allowed=USES_HOUSING, uses_conditional=["atelier artisanal"], uses_forbidden=CLASSES,
              frontage=(8, 10)),
    "D": dict(label="Zone d'immeubles R+4", dominant_use="habitat collectif", height_max_m=17.5, storeys_max=4,
              footprint_max_pct=70, cus_value=2.8, cus_meaning="plancher", min_plot_area_m2=200, min_frontage_m=10,
              setback_road_m=0, setback_side_m=0, setback_rear_m=6, continuous_frontage=True,
              uses_allowed=USES_HOUSING, uses_conditional=["établissement classé 3e catégorie"],
              uses_forbidden=CLASSES, frontage=(10, 14)),
    "C": dict(label="Zone d'immeubles R+6", dominant_use="habitat collectif", height_max_m=23.5, storeys_max=6,
              footprint_max_pct=75, cus_value=3.2, cus_meaning="plancher", min_plot_area_m2=300, min_frontage_m=15,
              setback_road_m=0, setback_side_m=0, setback_rear_m=8, continuous_frontage=True,
              uses_allowed=USES_HOUSING + ["hôtellerie"], uses_conditional=["établissement classé 3e catégorie"],
              uses_forbidden=CLASSES,
              conditional_rules=[{"parameter": "storeys_max", "value": 5, "when": {"road_width_lt_m": 20},
                                  "article": "art. 12"},
                                 {"parameter": "height_max_m", "value": 20.5, "when": {"road_width_lt_m": 20},
                                  "article": "art. 12"}],
              frontage=(14, 20)),
    "B": dict(label="Zone d'immeubles R+8 du centre", dominant_use="habitat collectif et bureaux", height_max_m=30,
              storeys_max=8, footprint_max_pct=80, cos_value=0.8, cos_meaning="emprise", cus_value=3.2,
              cus_meaning="plancher", min_plot_area_m2=500, min_frontage_m=20, setback_road_m=0, setback_side_m=0,
              setback_rear_m=10, continuous_frontage=True, uses_allowed=USES_HOUSING + ["hôtellerie", "sièges sociaux"],
              uses_conditional=["établissement classé 3e catégorie"], uses_forbidden=CLASSES,
              conditional_rules=[{"parameter": "storeys_max", "value": 6, "when": {"road_width_lt_m": 30},
                                  "article": "art. 9"},
                                 {"parameter": "height_max_m", "value": 23.5, "when": {"road_width_lt_m": 30},
                                  "article": "art. 9"}],
              frontage=(18, 26)),
    "I": dict(label="Zone industrielle", dominant_use="industrie", height_max_m=15, storeys_max=2,
              footprint_max_pct=60, min_plot_area_m2=1000, min_frontage_m=25, setback_road_m=10, setback_side_m=5,
              setback_rear_m=5, continuous_frontage=False,
              uses_allowed=["industrie", "entrepôts", "établissement classé"], uses_conditional=["logement de gardien"],
              uses_forbidden=["habitation", "enseignement"], frontage=(30, 50)),
    "ZAE": dict(label="Zone d'activités économiques", dominant_use="activités", height_max_m=18, storeys_max=3,
                footprint_max_pct=60, cus_value=1.8, cus_meaning="plancher", min_plot_area_m2=500, min_frontage_m=20,
                setback_road_m=5, setback_side_m=4, setback_rear_m=4, continuous_frontage=False,
                uses_allowed=["bureaux", "commerce", "artisanat", "établissement classé 3e catégorie"],
                uses_conditional=["établissement classé 2e catégorie"], uses_forbidden=["habitation"],
                frontage=(20, 30)),
    "ZV": dict(label="Zone d'espaces verts", dominant_use="espace vert", height_max_m=0, storeys_max=0,
               footprint_max_pct=0, uses_allowed=["espace vert", "aire de jeux"], uses_forbidden=["toute construction"],
               frontage=(30, 45)),
}

FACILITIES = [("E", "École"), ("S", "Centre de santé"), ("M", "Mosquée"), ("A", "Administration"),
              ("Sp", "Terrain de sport"), ("C", "Équipement culturel")]

STREET_WORDS = [
    "des Orangers", "Ibn Batouta", "Al Massira", "Zerktouni", "Abdelmoumen", "Anoual", "Bir Anzarane",
    "Ghandi", "Al Qods", "des Palmiers", "Moulay Youssef", "Hassan II", "Mohammed V", "Oued Sebou", "Oued Ziz",
    "Ibn Sina", "Al Farabi", "El Jadida", "d'Agadir", "de Fès", "de Marrakech", "Tiznit", "Imam Malik",
    "des Acacias", "des Jasmins", "Al Amal", "Al Wahda", "Ibn Khaldoun", "Lalla Yacout", "Allal El Fassi",
]
FIRST_NAMES = ["Mohamed", "Fatima", "Ahmed", "Khadija", "Youssef", "Aicha", "Hassan", "Nadia", "Omar", "Salma",
               "Rachid", "Samira", "Karim", "Leila", "Mustapha", "Zineb", "Abdellah", "Naima", "Hamid", "Meryem"]
LAST_NAMES = ["Alaoui", "Bennani", "El Idrissi", "Tazi", "Berrada", "Chraibi", "Lahlou", "Benjelloun", "Fassi",
              "Squalli", "Amrani", "Ouazzani", "Kettani", "Naciri", "Sefrioui", "El Mansouri", "Bouzid", "Cherkaoui"]
