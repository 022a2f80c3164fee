"""Notes de renseignements urbanistiques: the indicative note now; the official note's lifecycle next."""
