"""Words the product and chat generators draw from.

Each product kind comes with synonyms and features, and descriptions use them, so that a later
semantic search for "marathon footwear" finds the "running shoes" and a search for "coffee
maker" finds the espresso machines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProductKind:
    """One kind of product: what it is called, what else it is called, what it offers."""

    noun: str
    synonyms: tuple[str, ...]
    features: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    kinds: tuple[ProductKind, ...]
    adjectives: tuple[str, ...]
    uses: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "running",
        (
            ProductKind(
                "running shoes",
                ("marathon footwear", "road running trainers", "jogging sneakers"),
                ("a cushioned midsole", "a breathable mesh upper", "a carbon plate"),
            ),
            ProductKind(
                "trail running shoes",
                ("off-road runners", "mountain running footwear", "trail sneakers"),
                ("a lugged outsole for grip", "a rock plate", "a waterproof membrane"),
            ),
            ProductKind(
                "running shorts",
                ("jogging shorts", "race-day shorts", "athletic shorts"),
                ("a built-in liner", "a zip pocket for keys", "quick-dry fabric"),
            ),
            ProductKind(
                "gps running watch",
                ("fitness tracker", "sports smartwatch", "pace and heart-rate watch"),
                ("accurate GPS pacing", "heart-rate monitoring", "a week of battery life"),
            ),
        ),
        ("lightweight", "cushioned", "breathable", "responsive", "reflective"),
        ("marathon training", "long-distance road running", "trail races", "daily jogging"),
    ),
    Category(
        "outdoor",
        (
            ProductKind(
                "hiking backpack",
                ("trekking rucksack", "daypack for hikers", "mountain pack"),
                ("a ventilated back panel", "a rain cover", "hip-belt pockets"),
            ),
            ProductKind(
                "camping tent",
                ("backpacking shelter", "two-person tent", "dome tent"),
                ("a storm-proof flysheet", "aluminium poles", "a quick pitch design"),
            ),
            ProductKind(
                "sleeping bag",
                ("down sleeping bag", "camping quilt", "mummy bag"),
                ("a comfort rating of -5 C", "a compression sack", "water-resistant down"),
            ),
            ProductKind(
                "rain jacket",
                ("waterproof shell", "hardshell jacket", "storm jacket"),
                ("taped seams", "pit zips for ventilation", "a helmet-compatible hood"),
            ),
        ),
        ("waterproof", "ultralight", "durable", "packable", "windproof"),
        ("multi-day hikes", "alpine camping", "weekend trekking", "rainy expeditions"),
    ),
    Category(
        "kitchen",
        (
            ProductKind(
                "espresso machine",
                ("coffee maker", "barista machine", "espresso maker"),
                ("a 15-bar pump", "a steam wand for milk", "a built-in grinder"),
            ),
            ProductKind(
                "chef's knife",
                ("kitchen knife", "cook's knife", "santoku blade"),
                ("a forged steel blade", "a full tang handle", "a razor-sharp edge"),
            ),
            ProductKind(
                "cast iron skillet",
                ("frying pan", "cast iron pan", "searing pan"),
                ("pre-seasoned iron", "even heat retention", "an oven-safe handle"),
            ),
            ProductKind(
                "blender",
                ("smoothie maker", "food processor", "high-speed mixer"),
                ("a 1200 W motor", "a tamper", "self-cleaning mode"),
            ),
        ),
        ("stainless", "non-stick", "professional", "compact", "heavy-duty"),
        ("home cooking", "searing steaks", "morning coffee", "smoothies and soups"),
    ),
    Category(
        "electronics",
        (
            ProductKind(
                "noise-cancelling headphones",
                ("over-ear headphones", "wireless headset", "ANC headphones"),
                ("active noise cancellation", "30 hours of battery", "a foldable design"),
            ),
            ProductKind(
                "wireless earbuds",
                ("bluetooth earphones", "true wireless in-ears", "sport earbuds"),
                ("a charging case", "sweat resistance", "touch controls"),
            ),
            ProductKind(
                "mechanical keyboard",
                ("gaming keyboard", "tactile keyboard", "clicky keyboard"),
                ("hot-swappable switches", "RGB backlight", "a detachable cable"),
            ),
            ProductKind(
                "4k monitor",
                ("ultra hd display", "computer screen", "high-resolution monitor"),
                ("HDR support", "a 144 Hz refresh rate", "USB-C power delivery"),
            ),
        ),
        ("wireless", "high-resolution", "long-lasting", "ergonomic", "fast-charging"),
        ("focused work", "gaming sessions", "commuting", "video editing"),
    ),
    Category(
        "fitness",
        (
            ProductKind(
                "yoga mat",
                ("exercise mat", "pilates mat", "workout mat"),
                ("a non-slip surface", "extra thick cushioning", "a carry strap"),
            ),
            ProductKind(
                "adjustable dumbbells",
                ("free weights", "dumbbell set", "home gym weights"),
                ("a quick weight selector", "a compact stand", "knurled grips"),
            ),
            ProductKind(
                "resistance bands",
                ("exercise bands", "stretch bands", "workout loops"),
                ("five resistance levels", "a door anchor", "latex-free rubber"),
            ),
            ProductKind(
                "kettlebell",
                ("cast iron weight", "swing weight", "competition kettlebell"),
                ("a wide handle", "a flat base", "a powder-coated finish"),
            ),
        ),
        ("non-slip", "adjustable", "compact", "sturdy", "portable"),
        ("home workouts", "strength training", "stretching routines", "cardio circuits"),
    ),
    Category(
        "books",
        (
            ProductKind(
                "science fiction novel",
                ("sci-fi book", "space opera", "speculative fiction"),
                ("an interstellar plot", "a twist ending", "vivid world-building"),
            ),
            ProductKind(
                "cookbook",
                ("recipe book", "cooking guide", "kitchen handbook"),
                ("100 tested recipes", "step-by-step photos", "weeknight dinner ideas"),
            ),
            ProductKind(
                "travel guide",
                ("guidebook", "travel handbook", "city guide"),
                ("fold-out maps", "local restaurant tips", "day-trip itineraries"),
            ),
            ProductKind(
                "mystery thriller",
                ("crime novel", "detective story", "suspense novel"),
                ("a gripping plot", "an unreliable narrator", "short chapters"),
            ),
        ),
        ("bestselling", "illustrated", "award-winning", "classic", "gripping"),
        ("reading on holiday", "learning new recipes", "planning a trip", "rainy evenings"),
    ),
)

BRANDS = ("Northpeak", "Velo", "Aster", "Kinetic", "Harbor", "Lumen", "Stride", "Oakline")
MODELS = ("Aero", "Summit", "Pulse", "Nova", "Terra", "Flux", "Core", "Vista", "Edge", "Zen")
EDITIONS = ("", " Pro", " Lite", " 2", " X", " Plus")

DESCRIPTIONS = (
    "{Adjective} {noun} by {brand}, made for {use}. Think of it as {a_synonym} with {feature}.",
    "The {name} is {an_adjective} {synonym} built for {use}, with {feature} and {feature2}.",
    "Looking for {a_synonym}? The {adjective} {noun} from {brand} brings {feature}, ideal for "
    "{use}.",
    "{brand}'s {adjective} {noun}: {feature}, {feature2}. A favourite {synonym} for {use}.",
)

CHAT_OPENERS = ("Hi!", "Hello,", "Quick question:", "Hey there,", "Good morning,", "")
CHAT_QUESTIONS = (
    "is the {name} good for {use}?",
    "I'm looking for {a_synonym} for {use}, what do you recommend?",
    "does the {name} come in other sizes or colours?",
    "how does the {name} compare to other {category} products?",
    "does the {name} have {feature}?",
    "I need {an_adjective} {synonym}, is the {name} a good pick?",
)
CHAT_FOLLOW_UPS = (
    "Thanks! And how long does shipping take for the {name}?",
    "Is it really {adjective}? I mostly use my {noun} for {use}.",
    "Can I return the {name} if it is not {adjective} enough?",
    "Great, I just ordered the {name}.",
    "Would you pair it with another {category} item?",
    "I bought the {name} last month and I love it, the {feature2} is great.",
)


def with_article(word: str) -> str:
    """``word`` after 'a' or 'an', by its first letter (good enough for our vocabulary)."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
