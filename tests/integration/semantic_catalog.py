"""A product catalog written for the semantic search tests: 220 products, 11 categories, 4 kinds
of product in each (5 products a kind), and the queries whose answers are known.

Written by hand, not by the producer's generator (whose descriptions repeat each kind's synonyms,
which would let a keyword search pass). Each paraphrase query shares no content word with any
product text of its target's category (the test checks it), so only meaning can find the target.

Not a test module (no ``test_`` prefix): test files load it by path, like the contract suite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from polystream_common.schemas import Product


@dataclass(frozen=True, slots=True)
class Item:
    product_id: str
    name: str
    category: str
    kind: str
    description: str
    tags: tuple[str, ...]
    price: float


# category -> kind -> (name, description, tags, price)
_Rows = list[tuple[str, str, tuple[str, ...], float]]
_CATALOG: dict[str, dict[str, _Rows]] = {
    "footwear": {
        "road racer": [
            (
                "Tempo Carbon Marathon Racer",
                "Featherweight racing sneakers for the marathon: a carbon plate and springy foam"
                " return energy with every stride over 42 km; breathable knit upper, 190 g.",
                ("marathon", "jogging", "sneakers", "road racing"),
                189.0,
            ),
            (
                "Stride Daily Trainer",
                "Cushioned everyday trainer for long easy miles on pavement, reflective heel.",
                ("jogging", "road", "cushioned"),
                119.0,
            ),
            (
                "Pacer 5K Flats",
                "Low-drop racing flats for fast 5K and 10K efforts on the track or road.",
                ("racing flats", "track", "speed"),
                99.0,
            ),
            (
                "Ridge Trail Runner",
                "Lugged outsole grips mud and rock on mountain trails; rock plate, gaiter hook.",
                ("trail", "grip", "mountain"),
                139.0,
            ),
            (
                "Cloudstep Stability Trainer",
                "Supportive jogging sneakers for overpronation with a firm medial post.",
                ("sneakers", "support", "jogging"),
                129.0,
            ),
        ],
        "hiking boot": [
            (
                "Summit Leather Hiking Boot",
                "Waterproof full-grain leather boots with ankle support for multi-day treks.",
                ("hiking", "waterproof", "boots"),
                179.0,
            ),
            (
                "Alpine Mid GTX",
                "Mid-cut waterproof hiker with a stiff Vibram sole for scrambles and scree.",
                ("hiking", "alpine", "vibram"),
                199.0,
            ),
            (
                "Trekker Lite Boot",
                "Light fabric hiking boots for day hikes, quick-drying, padded collar.",
                ("hiking", "day hike", "boots"),
                109.0,
            ),
            (
                "Winter Snow Boot",
                "Insulated snow boots rated to -30 C with a felt liner and studded sole.",
                ("winter", "snow", "insulated"),
                149.0,
            ),
            (
                "Backpacker Pro Boot",
                "Heavy-duty backpacking boots for loaded packs and rough terrain, resoleable.",
                ("backpacking", "boots", "durable"),
                229.0,
            ),
        ],
        "sandal": [
            (
                "Coastline Flip-Flops",
                "Rubber flip-flops with a soft footbed for the pool and the shore.",
                ("flip-flops", "summer", "pool"),
                19.0,
            ),
            (
                "River Sport Sandal",
                "Adjustable strap sandals for wading rivers and kayaking, quick-dry webbing.",
                ("sandals", "water", "straps"),
                69.0,
            ),
            (
                "Cork Footbed Slide",
                "Two-strap slides on a contoured cork footbed, suede lining.",
                ("slides", "cork", "summer"),
                89.0,
            ),
            (
                "Gladiator Leather Sandal",
                "Flat leather sandals with ankle straps and a buckle closure.",
                ("sandals", "leather", "flat"),
                59.0,
            ),
            (
                "Recovery Slide",
                "Foam slides that cradle tired feet after a long race or training block.",
                ("slides", "recovery", "foam"),
                45.0,
            ),
        ],
        "slipper": [
            (
                "Shearling Moccasin Slipper",
                "Suede moccasin slippers lined with sheepskin, indoor-outdoor sole.",
                ("slippers", "sheepskin", "indoor"),
                79.0,
            ),
            (
                "Knit Bootie Slipper",
                "Chunky knit bootie slippers with a non-slip dotted sole.",
                ("slippers", "knit", "cosy"),
                29.0,
            ),
            (
                "Memory Foam Clog Slipper",
                "Closed-back clog slippers with memory foam and a fleece lining.",
                ("slippers", "memory foam", "fleece"),
                35.0,
            ),
            (
                "Felt House Slipper",
                "Boiled wool felt house slippers, breathable and warm on cold floors.",
                ("slippers", "wool", "felt"),
                49.0,
            ),
            (
                "Plush Animal Slipper",
                "Fluffy slippers shaped like bears for chilly mornings.",
                ("slippers", "plush", "fun"),
                25.0,
            ),
        ],
    },
    "kitchen": {
        "cookware": [
            (
                "Cast Iron Skillet 26 cm",
                "Pre-seasoned cast iron frying pan for searing steak and baking cornbread.",
                ("cast iron", "skillet", "frying pan"),
                39.0,
            ),
            (
                "Tri-Ply Saucepan 2 L",
                "Stainless steel saucepan with an aluminium core and a tight lid for sauces.",
                ("saucepan", "stainless steel"),
                59.0,
            ),
            (
                "Enamelled Dutch Oven 5 L",
                "Heavy enamelled cast iron casserole for braises, stews and bread.",
                ("dutch oven", "casserole", "braising"),
                149.0,
            ),
            (
                "Carbon Steel Wok",
                "Round-bottom carbon steel wok for stir-fry over a high flame.",
                ("wok", "stir-fry", "carbon steel"),
                45.0,
            ),
            (
                "Non-Stick Crepe Pan",
                "Shallow non-stick pan for crepes, pancakes and omelettes.",
                ("non-stick", "pancakes", "crepes"),
                29.0,
            ),
        ],
        "knife": [
            (
                "Gyuto Chef's Knife 21 cm",
                "Japanese VG-10 steel chef's knife, razor edge for slicing and dicing.",
                ("chef's knife", "japanese steel"),
                129.0,
            ),
            (
                "Paring Knife",
                "Small paring knife for peeling and trimming fruit and vegetables.",
                ("paring knife", "peeling"),
                19.0,
            ),
            (
                "Serrated Bread Knife",
                "Long serrated blade that slices crusty loaves without crushing them.",
                ("bread knife", "serrated"),
                35.0,
            ),
            (
                "Whetstone Sharpening Set",
                "1000/6000 grit whetstone with a bamboo base to sharpen blades.",
                ("sharpening", "whetstone"),
                42.0,
            ),
            (
                "Magnetic Knife Strip",
                "Walnut magnetic strip that holds blades on the wall.",
                ("knife storage", "magnetic"),
                49.0,
            ),
        ],
        "coffee gear": [
            (
                "Insulated Travel Mug",
                "Vacuum-insulated stainless steel tumbler with a leakproof lid; coffee stays"
                " warm for six hours in your bag or car cup holder.",
                ("tumbler", "vacuum insulated", "leakproof"),
                29.0,
            ),
            (
                "Burr Coffee Grinder",
                "Conical burr grinder with 40 settings from espresso to French press.",
                ("grinder", "burr", "espresso"),
                99.0,
            ),
            (
                "Pour-Over Dripper Set",
                "Ceramic pour-over cone with paper filters and a glass server.",
                ("pour-over", "filter coffee"),
                34.0,
            ),
            (
                "Stovetop Espresso Maker",
                "Aluminium moka pot brewing six cups of strong espresso-style coffee.",
                ("moka pot", "espresso"),
                32.0,
            ),
            (
                "Milk Frother",
                "Electric frother for cappuccino foam and lattes, cold foam setting.",
                ("frother", "latte", "cappuccino"),
                49.0,
            ),
        ],
        "bakeware": [
            (
                "Sourdough Proofing Basket",
                "Rattan banneton with a linen liner for shaping sourdough loaves.",
                ("banneton", "sourdough", "bread"),
                22.0,
            ),
            (
                "Stand Mixer 5 L",
                "Tilt-head stand mixer with a dough hook, whisk and paddle for cakes and bread.",
                ("stand mixer", "baking", "dough"),
                299.0,
            ),
            (
                "Silicone Baking Mat",
                "Reusable non-stick mat for cookies and macarons, replaces parchment.",
                ("baking mat", "cookies", "silicone"),
                15.0,
            ),
            (
                "Springform Cake Tin",
                "24 cm springform tin with a leakproof base for cheesecakes.",
                ("cake tin", "cheesecake", "springform"),
                19.0,
            ),
            (
                "Digital Kitchen Scale",
                "Precise scale to 1 g with a tare button for baking by weight.",
                ("scale", "baking", "weighing"),
                25.0,
            ),
        ],
    },
    "electronics": {
        "earbuds": [
            (
                "Hush Pro Earbuds",
                "Wireless in-ear buds that silence engine roar on planes and trains; 30-hour"
                " battery case.",
                ("wireless", "in-ear", "travel"),
                199.0,
            ),
            (
                "Sport Fit Earbuds",
                "Sweat-proof wireless buds with ear hooks that stay put during exercise.",
                ("wireless", "sweat-proof", "sport"),
                79.0,
            ),
            (
                "Budget Wired Earbuds",
                "Wired in-ear buds with an inline microphone and a 3.5 mm jack.",
                ("wired", "microphone"),
                15.0,
            ),
            (
                "Studio Monitor Headphones",
                "Closed-back over-ear headphones with a flat response for mixing music.",
                ("headphones", "studio", "over-ear"),
                149.0,
            ),
            (
                "Kids Volume-Limited Headphones",
                "Colourful on-ear headphones capped at 85 dB for young ears.",
                ("headphones", "kids", "volume limit"),
                25.0,
            ),
        ],
        "speaker": [
            (
                "Pocket Bluetooth Speaker",
                "Waterproof pocket speaker with 12 hours of battery and a strap.",
                ("bluetooth", "speaker", "waterproof"),
                39.0,
            ),
            (
                "Smart Home Speaker",
                "Voice assistant speaker that plays music and controls smart lights.",
                ("smart speaker", "voice assistant"),
                99.0,
            ),
            (
                "Bookshelf Speakers Pair",
                "Passive two-way bookshelf speakers for a stereo hi-fi setup.",
                ("hi-fi", "stereo", "speakers"),
                249.0,
            ),
            (
                "Soundbar with Subwoofer",
                "TV soundbar with a wireless subwoofer for movie bass and clear dialogue.",
                ("soundbar", "tv", "subwoofer"),
                299.0,
            ),
            (
                "Party Speaker",
                "Loud portable party speaker with lights and a karaoke mic input.",
                ("party", "karaoke", "portable"),
                179.0,
            ),
        ],
        "charger": [
            (
                "65 W USB-C Charger",
                "Compact GaN wall charger for laptops, tablets and phones.",
                ("usb-c", "charger", "gan"),
                45.0,
            ),
            (
                "20 000 mAh Power Bank",
                "Portable battery pack that refills a phone four times.",
                ("power bank", "battery pack"),
                49.0,
            ),
            (
                "Wireless Charging Pad",
                "Qi pad that tops up a phone laid on it, 15 W.",
                ("qi", "wireless charging"),
                29.0,
            ),
            (
                "Solar Charger Panel",
                "Foldable 21 W solar panel that charges phones off-grid.",
                ("solar", "camping", "usb"),
                69.0,
            ),
            (
                "Car Charger Dual USB",
                "Cigarette-lighter adapter with two fast-charge USB ports.",
                ("car", "usb", "adapter"),
                15.0,
            ),
        ],
        "camera": [
            (
                "Mirrorless Camera Body",
                "24 MP mirrorless camera with in-body stabilisation and 4K video.",
                ("mirrorless", "4k", "photography"),
                1099.0,
            ),
            (
                "Action Camera",
                "Rugged waterproof action cam for helmets, bikes and surfing.",
                ("action cam", "waterproof", "helmet"),
                299.0,
            ),
            (
                "Instant Film Camera",
                "Retro instant camera that prints credit-card-size photos on the spot.",
                ("instant", "film", "retro"),
                89.0,
            ),
            (
                "Video Doorbell",
                "Doorbell with an HD camera, motion alerts and two-way talk.",
                ("doorbell", "security", "camera"),
                129.0,
            ),
            (
                "Webcam 1080p",
                "Full-HD webcam with autofocus and a privacy shutter for video calls.",
                ("webcam", "video calls"),
                59.0,
            ),
        ],
    },
    "games": {
        "console": [
            (
                "Handheld Gaming Console",
                "Portable console with a 7-inch screen for gaming on the go.",
                ("console", "handheld", "gaming"),
                349.0,
            ),
            (
                "Next-Gen Home Console",
                "4K gaming console with a fast SSD and ray tracing.",
                ("console", "4k", "gaming"),
                499.0,
            ),
            (
                "Retro Mini Console",
                "Plug-and-play mini console with 30 classic 8-bit video games.",
                ("retro", "console", "8-bit"),
                69.0,
            ),
            (
                "VR Headset",
                "Standalone virtual reality headset with hand-tracking controllers.",
                ("vr", "virtual reality", "gaming"),
                399.0,
            ),
            (
                "Gaming PC Tower",
                "RTX graphics gaming desktop with liquid cooling and RGB lighting.",
                ("gaming pc", "rtx", "desktop"),
                1599.0,
            ),
        ],
        "controller": [
            (
                "Pro Wireless Controller",
                "Wireless gamepad with back paddles and hall-effect sticks.",
                ("gamepad", "controller", "wireless"),
                69.0,
            ),
            (
                "Arcade Fight Stick",
                "Arcade joystick with Sanwa buttons for fighting games.",
                ("arcade", "fight stick", "fighting games"),
                159.0,
            ),
            (
                "Racing Wheel and Pedals",
                "Force-feedback steering wheel with pedals for driving sims.",
                ("racing wheel", "sim racing"),
                299.0,
            ),
            (
                "Mechanical Gaming Keyboard",
                "RGB mechanical keyboard with fast linear switches for esports.",
                ("keyboard", "mechanical", "esports"),
                119.0,
            ),
            (
                "Lightweight Gaming Mouse",
                "58 g gaming mouse with a 26K DPI sensor for shooters.",
                ("mouse", "fps", "esports"),
                79.0,
            ),
        ],
        "board game": [
            (
                "Settlers Strategy Board Game",
                "Trade, build and settle an island in this classic strategy game.",
                ("board game", "strategy", "family"),
                45.0,
            ),
            (
                "Cooperative Pandemic Game",
                "Work together to stop four diseases spreading across the world.",
                ("board game", "cooperative"),
                39.0,
            ),
            (
                "Party Word Game",
                "Team word-guessing party game for 4 to 8 players.",
                ("party game", "words"),
                19.0,
            ),
            (
                "Chess Set Walnut",
                "Weighted wooden chess pieces with a folding walnut board.",
                ("chess", "wooden"),
                89.0,
            ),
            (
                "Dungeon Crawler Campaign Game",
                "Tactical fantasy campaign game with miniatures and 90 scenarios.",
                ("miniatures", "fantasy", "campaign"),
                139.0,
            ),
        ],
        "gaming accessory": [
            (
                "Gaming Headset 7.1",
                "Surround-sound gaming headset with a boom mic for team chat.",
                ("headset", "gaming", "surround"),
                89.0,
            ),
            (
                "Gaming Chair",
                "Racing-style gaming chair with lumbar pillow and 4D armrests.",
                ("gaming chair", "ergonomic"),
                249.0,
            ),
            (
                "Extended Mouse Pad",
                "Desk-size cloth mouse pad with stitched edges.",
                ("mouse pad", "gaming"),
                25.0,
            ),
            (
                "Capture Card",
                "4K60 capture card for streaming console gameplay.",
                ("streaming", "capture card"),
                169.0,
            ),
            (
                "Controller Charging Dock",
                "Charging station for two gamepads with LED status.",
                ("charging dock", "gamepad"),
                29.0,
            ),
        ],
    },
    "books": {
        "horror novel": [
            (
                "The Lighthouse Keeper's Ghost",
                "Horror novel: a haunted lighthouse, whispers in the fog and creeping dread.",
                ("horror", "ghosts", "haunted"),
                14.0,
            ),
            (
                "Hollow Pines",
                "A cursed forest town where the missing come back wrong; a chilling horror tale.",
                ("horror", "supernatural"),
                12.0,
            ),
            (
                "The Basement Door",
                "Psychological horror about a family and a door that should stay locked.",
                ("horror", "psychological"),
                13.0,
            ),
            (
                "Vampires of Prague",
                "Gothic vampire novel set in nineteenth-century Prague.",
                ("gothic", "vampires"),
                15.0,
            ),
            (
                "Ghost Tales Anthology",
                "Twenty classic tales of ghosts and hauntings from Victorian authors.",
                ("ghosts", "anthology", "classic"),
                11.0,
            ),
        ],
        "cookbook": [
            (
                "Handmade Pasta and Risotto",
                "Recipes from Rome, Tuscany and Sicily: fresh pasta, gnocchi, risotto and sauces.",
                ("recipes", "pasta", "cookbook"),
                29.0,
            ),
            (
                "Weeknight Vegetarian",
                "Cookbook of 100 quick meat-free dinners in 30 minutes.",
                ("vegetarian", "recipes", "quick"),
                24.0,
            ),
            (
                "The Sourdough Bible",
                "Everything about starters, hydration and baking crusty loaves.",
                ("baking", "sourdough", "bread"),
                32.0,
            ),
            (
                "Tokyo Street Eats",
                "Ramen, yakitori and gyoza recipes from Japanese street stalls.",
                ("japanese", "recipes", "ramen"),
                27.0,
            ),
            (
                "Smoke and Fire BBQ",
                "Low-and-slow barbecue: brisket, ribs, rubs and smoker setups.",
                ("barbecue", "grilling", "recipes"),
                26.0,
            ),
        ],
        "fantasy novel": [
            (
                "The Dragon's Heir",
                "Epic fantasy: an orphan discovers she can command dragons.",
                ("fantasy", "dragons", "epic"),
                16.0,
            ),
            (
                "Crown of Thorns",
                "Court intrigue and magic in a kingdom on the brink of war.",
                ("fantasy", "magic", "politics"),
                15.0,
            ),
            (
                "The Wizard's Apprentice",
                "A young mage learns spellcraft at a floating academy.",
                ("fantasy", "wizards", "academy"),
                14.0,
            ),
            (
                "Swords of the North",
                "Grimdark saga of mercenaries in a frozen northern realm.",
                ("grimdark", "fantasy", "saga"),
                17.0,
            ),
            (
                "The Last Elf Queen",
                "High fantasy quest to unite the elven clans against a dark lord.",
                ("elves", "quest", "fantasy"),
                15.0,
            ),
        ],
        "history book": [
            (
                "Rome: Rise and Fall",
                "History of the Roman Empire from the Republic to the sack of Rome.",
                ("history", "rome", "empire"),
                22.0,
            ),
            (
                "The Silk Roads",
                "How trade routes between East and West shaped the world.",
                ("history", "trade", "asia"),
                20.0,
            ),
            (
                "Stalingrad 1942",
                "Military history of the battle that turned the Second World War.",
                ("military history", "ww2"),
                21.0,
            ),
            (
                "The Age of Sail",
                "Navies, explorers and merchants of the great sailing ships.",
                ("maritime", "history", "exploration"),
                19.0,
            ),
            (
                "Medieval Lives",
                "Peasants, monks and knights: ordinary life in the Middle Ages.",
                ("medieval", "social history"),
                18.0,
            ),
        ],
    },
    "garden": {
        "lawn mower": [
            (
                "Cordless Lawn Mower 40 cm",
                "Battery lawn mower with a 40 cm deck, mulching and a 50 L catcher.",
                ("lawn mower", "cordless", "mulching"),
                329.0,
            ),
            (
                "Robotic Mower",
                "Robot mower that trims the lawn by itself within a boundary wire.",
                ("robot mower", "lawn", "automatic"),
                799.0,
            ),
            (
                "Push Reel Mower",
                "Manual reel mower, quiet and fuel-free, for small lawns.",
                ("reel mower", "manual", "lawn"),
                119.0,
            ),
            (
                "Petrol Ride-On Mower",
                "Ride-on lawn tractor for large lawns, 96 cm deck.",
                ("ride-on", "tractor", "lawn"),
                2499.0,
            ),
            (
                "String Trimmer",
                "Cordless edge trimmer for lawn borders and around trees.",
                ("trimmer", "edging", "lawn"),
                99.0,
            ),
        ],
        "pruning": [
            (
                "Bypass Pruning Shears",
                "Secateurs that snip branches up to 2 cm cleanly.",
                ("secateurs", "pruning"),
                29.0,
            ),
            (
                "Telescopic Loppers",
                "Long-handled loppers that reach high branches.",
                ("loppers", "pruning", "branches"),
                49.0,
            ),
            (
                "Hedge Shears",
                "Wave-blade hedge shears for shaping box and privet.",
                ("hedge", "topiary"),
                35.0,
            ),
            (
                "Folding Pruning Saw",
                "Pull-stroke folding saw for thick limbs.",
                ("saw", "pruning"),
                32.0,
            ),
            (
                "Electric Hedge Trimmer",
                "Corded hedge trimmer with a 55 cm blade.",
                ("hedge trimmer", "electric"),
                79.0,
            ),
        ],
        "watering": [
            (
                "Expandable Garden Hose 30 m",
                "Lightweight hose that shrinks back when empty, with a spray nozzle.",
                ("hose", "watering"),
                39.0,
            ),
            (
                "Oscillating Sprinkler",
                "Sprinkler that waters a rectangle up to 300 square metres.",
                ("sprinkler", "watering"),
                25.0,
            ),
            (
                "Drip Irrigation Kit",
                "Drip lines and emitters for vegetable beds, with a timer.",
                ("irrigation", "drip", "timer"),
                59.0,
            ),
            (
                "Galvanised Watering Can",
                "10 L metal watering can with a brass rose.",
                ("watering can", "galvanised"),
                35.0,
            ),
            (
                "Rain Barrel 200 L",
                "Water butt with a diverter kit to collect rain from the downpipe.",
                ("rain barrel", "water butt"),
                89.0,
            ),
        ],
        "seeds and plants": [
            (
                "Heirloom Tomato Seeds",
                "Twelve heirloom tomato varieties for greenhouse or patio.",
                ("seeds", "tomatoes", "vegetables"),
                9.0,
            ),
            (
                "Wildflower Seed Mix",
                "Native wildflower mix that feeds bees and butterflies.",
                ("wildflowers", "pollinators", "seeds"),
                7.0,
            ),
            (
                "Herb Starter Kit",
                "Basil, parsley and chives with pots and compost.",
                ("herbs", "starter kit"),
                19.0,
            ),
            (
                "Lavender Plants x3",
                "Three potted English lavender plants, fragrant and hardy.",
                ("lavender", "perennials"),
                24.0,
            ),
            (
                "Seed Potato Collection",
                "Early and maincrop seed potatoes, 3 kg.",
                ("potatoes", "vegetables"),
                14.0,
            ),
        ],
    },
    "pets": {
        "canine bed": [
            (
                "Orthopedic Memory Foam Bed",
                "Memory-foam bed for large canines with achy joints; washable cover, bolster"
                " edges for resting the head.",
                ("orthopedic", "memory foam", "large breeds"),
                119.0,
            ),
            (
                "Puppy Crate Mat",
                "Soft fleece mat sized for crates, chew-resistant edges.",
                ("crate mat", "puppy"),
                29.0,
            ),
            (
                "Elevated Cot Bed",
                "Raised mesh cot that lifts hounds off warm patios.",
                ("raised", "outdoor", "mesh"),
                49.0,
            ),
            (
                "Donut Calming Bed",
                "Round shag bed with raised rim for anxious puppies.",
                ("calming", "donut", "shag"),
                45.0,
            ),
            (
                "Travel Bed Roll",
                "Packable bed roll for camping trips with your hound.",
                ("travel", "camping", "packable"),
                39.0,
            ),
        ],
        "feline toy": [
            (
                "Feather Wand Teaser",
                "Feather wand with a bell: kittens chase, leap and pounce for hours.",
                ("feather wand", "kitten", "interactive"),
                9.0,
            ),
            (
                "Catnip Mice x5",
                "Five felt mice stuffed with organic catnip.",
                ("catnip", "mice"),
                7.0,
            ),
            (
                "Sisal Scratching Tower",
                "Sisal scratching post with a perch and a dangling pom-pom for kittens.",
                ("scratching post", "sisal"),
                59.0,
            ),
            (
                "Laser Chase Toy",
                "Automatic laser pointer with random patterns for feline play.",
                ("laser", "automatic", "feline"),
                22.0,
            ),
            (
                "Crinkle Play Tunnel",
                "Collapsible three-way crinkle tunnel to hide and ambush in.",
                ("tunnel", "crinkle", "kitten"),
                18.0,
            ),
        ],
        "aquarium": [
            (
                "60 L Aquarium Kit",
                "Glass tank with LED lighting, filter and heater for tropical fish.",
                ("aquarium", "tropical fish"),
                129.0,
            ),
            (
                "Aquarium Canister Filter",
                "External canister filter for tanks up to 300 L.",
                ("filter", "aquarium"),
                99.0,
            ),
            (
                "Betta Fish Bowl",
                "Small desktop bowl with a plant for a single betta.",
                ("betta", "bowl"),
                25.0,
            ),
            (
                "Tropical Fish Flakes",
                "Balanced flake food for community fish, 250 ml.",
                ("fish food", "flakes"),
                8.0,
            ),
            (
                "Aquarium Gravel Vacuum",
                "Siphon gravel cleaner for partial water changes.",
                ("cleaning", "siphon"),
                15.0,
            ),
        ],
        "bird supplies": [
            (
                "Hanging Bird Feeder",
                "Squirrel-proof seed feeder for garden birds.",
                ("bird feeder", "wild birds"),
                29.0,
            ),
            (
                "Parakeet Cage",
                "Tall wire cage with perches and feeding cups for budgies.",
                ("budgie", "cage"),
                79.0,
            ),
            (
                "Wild Bird Seed Mix 5 kg",
                "Sunflower hearts, millet and peanuts for wild birds.",
                ("bird seed", "wild birds"),
                19.0,
            ),
            (
                "Cedar Nest Box",
                "Cedar nest box for tits and sparrows, 28 mm hole.",
                ("nest box", "birds"),
                24.0,
            ),
            (
                "Birdbath Stone",
                "Frost-proof stone birdbath for the garden.",
                ("birdbath", "birds"),
                59.0,
            ),
        ],
    },
    "beauty": {
        "sun care": [
            (
                "SPF 50 Sunscreen Lotion",
                "Broad-spectrum UVA/UVB sun lotion, water resistant for 80 minutes, reef safe.",
                ("sunscreen", "spf 50", "water resistant"),
                18.0,
            ),
            (
                "After-Sun Aloe Gel",
                "Cooling aloe vera gel that soothes sunburn.",
                ("after-sun", "aloe"),
                9.0,
            ),
            (
                "Tinted Daily SPF 30",
                "Lightweight tinted moisturiser with SPF 30 for everyday wear.",
                ("tinted", "spf 30", "moisturiser"),
                26.0,
            ),
            (
                "Kids Sun Stick SPF 50+",
                "Mess-free sun stick for little faces at the pool.",
                ("kids", "sun stick"),
                12.0,
            ),
            (
                "Self-Tanning Mousse",
                "Streak-free self-tan mousse for a sunless glow.",
                ("self-tan", "bronzer"),
                22.0,
            ),
        ],
        "hair care": [
            (
                "Argan Oil Shampoo",
                "Sulphate-free shampoo with argan oil for dry, frizzy hair.",
                ("shampoo", "argan", "frizz"),
                14.0,
            ),
            (
                "Ionic Hair Dryer",
                "2200 W ionic hair dryer with a diffuser and cool shot.",
                ("hair dryer", "ionic"),
                69.0,
            ),
            (
                "Ceramic Straightener",
                "Ceramic flat iron with adjustable heat up to 230 C.",
                ("straightener", "flat iron"),
                49.0,
            ),
            (
                "Deep Conditioning Mask",
                "Weekly hair mask with shea butter to repair damaged ends.",
                ("hair mask", "conditioner"),
                19.0,
            ),
            (
                "Boar Bristle Brush",
                "Paddle brush with boar bristles for shine.",
                ("brush", "hair"),
                24.0,
            ),
        ],
        "shaving": [
            (
                "Safety Razor",
                "Chrome double-edge safety razor with 10 blades.",
                ("razor", "wet shave"),
                29.0,
            ),
            (
                "Electric Foil Shaver",
                "Rechargeable foil shaver, wet and dry, with a trimmer.",
                ("shaver", "electric"),
                89.0,
            ),
            (
                "Shaving Cream Tub",
                "Sandalwood lather cream for a close wet shave.",
                ("shaving cream", "sandalwood"),
                15.0,
            ),
            (
                "Beard Trimmer",
                "Cordless beard trimmer with 20 length settings.",
                ("beard", "trimmer"),
                49.0,
            ),
            (
                "Aftershave Balm",
                "Alcohol-free balm that calms razor burn.",
                ("aftershave", "balm"),
                17.0,
            ),
        ],
        "fragrance": [
            (
                "Citrus Eau de Toilette",
                "Fresh bergamot and neroli fragrance, 100 ml.",
                ("fragrance", "citrus"),
                59.0,
            ),
            (
                "Oud Eau de Parfum",
                "Warm oud, amber and rose perfume, 50 ml.",
                ("perfume", "oud"),
                119.0,
            ),
            (
                "Scented Candle Fig",
                "Soy wax candle with fig leaf scent, 50-hour burn.",
                ("candle", "fig"),
                32.0,
            ),
            (
                "Rollerball Perfume Trio",
                "Three travel-size rollerball perfumes: floral, woody, fresh.",
                ("rollerball", "travel size"),
                45.0,
            ),
            (
                "Body Mist Vanilla",
                "Light vanilla body mist for all-day scent.",
                ("body mist", "vanilla"),
                14.0,
            ),
        ],
    },
    "toys": {
        "plush": [
            (
                "Plush Horse with Brushable Mane",
                "Soft stuffed horse with a rainbow mane to brush and braid, for toddlers.",
                ("stuffed animal", "horse", "toddlers"),
                24.0,
            ),
            (
                "Giant Teddy Bear",
                "1 m cuddly teddy bear with a bow tie.",
                ("teddy bear", "cuddly"),
                49.0,
            ),
            (
                "Sleepy Sloth Plush",
                "Floppy sloth soft toy with velcro hands.",
                ("sloth", "soft toy"),
                19.0,
            ),
            (
                "Dinosaur Plush Set",
                "Three soft dinosaurs: T-rex, triceratops and stegosaurus.",
                ("dinosaurs", "soft toy"),
                29.0,
            ),
            (
                "Bunny Comforter Blanket",
                "Baby comforter with a bunny head, machine washable.",
                ("baby", "comforter", "bunny"),
                15.0,
            ),
        ],
        "building set": [
            (
                "Brick Castle Building Set",
                "1200-piece interlocking brick set to build a medieval castle.",
                ("building bricks", "castle"),
                89.0,
            ),
            (
                "Magnetic Tiles 100 pcs",
                "Magnetic building tiles for 3D shapes and towers.",
                ("magnetic tiles", "stem"),
                59.0,
            ),
            (
                "Wooden Train Set",
                "Beech wood train track with bridges and a crane.",
                ("wooden", "train"),
                69.0,
            ),
            (
                "Robot Coding Kit",
                "Build and program a robot with a tablet app, ages 8+.",
                ("robotics", "coding", "stem"),
                129.0,
            ),
            (
                "Marble Run Tower",
                "Snap-together marble run with loops and funnels.",
                ("marble run", "construction"),
                39.0,
            ),
        ],
        "outdoor toy": [
            (
                "Balance Bike",
                "Pedal-free balance bike for toddlers from age 2.",
                ("balance bike", "toddler"),
                79.0,
            ),
            (
                "Water Blaster Pair",
                "Two pump-action water blasters for summer fun.",
                ("water blaster", "summer"),
                19.0,
            ),
            (
                "Kite Delta",
                "Easy-flying delta kite with 50 m line.",
                ("kite", "wind"),
                25.0,
            ),
            (
                "Garden Trampoline 2.4 m",
                "Backyard trampoline with a safety net enclosure.",
                ("trampoline", "backyard"),
                249.0,
            ),
            (
                "Sandpit Toy Set",
                "Bucket, spade, rake and moulds for the sandpit.",
                ("sand", "bucket"),
                12.0,
            ),
        ],
        "doll": [
            (
                "Fashion Doll with Wardrobe",
                "Posable doll with five outfits and accessories.",
                ("doll", "fashion"),
                34.0,
            ),
            (
                "Baby Doll That Cries",
                "Interactive baby doll with bottle and sounds.",
                ("baby doll", "interactive"),
                39.0,
            ),
            (
                "Wooden Dollhouse",
                "Three-storey wooden dollhouse with 20 furniture pieces.",
                ("dollhouse", "wooden"),
                119.0,
            ),
            (
                "Rag Doll",
                "Hand-sewn cotton rag doll with yarn hair.",
                ("rag doll", "handmade"),
                22.0,
            ),
            (
                "Princess Dress-Up Set",
                "Dress, tiara and wand for pretend play.",
                ("dress-up", "pretend play"),
                25.0,
            ),
        ],
    },
    "office": {
        "notebook": [
            (
                "Dotted Journal A5",
                "Lay-flat dotted journal, 200 pages of 120 gsm paper for daily journaling,"
                " diaries and bullet lists.",
                ("journal", "dotted", "diary"),
                19.0,
            ),
            (
                "Spiral Notebook 3-Pack",
                "Ruled spiral notebooks for lecture notes.",
                ("notebook", "ruled"),
                9.0,
            ),
            (
                "Leather Planner 2027",
                "Weekly planner with a leather cover and monthly overviews.",
                ("planner", "calendar"),
                29.0,
            ),
            (
                "Sketchbook A4",
                "Heavy 180 gsm sketchbook for pencil and ink drawing.",
                ("sketchbook", "drawing"),
                14.0,
            ),
            (
                "Sticky Notes Cube",
                "Cube of 400 colourful sticky notes.",
                ("sticky notes", "memo"),
                5.0,
            ),
        ],
        "pen": [
            (
                "Fountain Pen Fine Nib",
                "Piston-fill fountain pen with a steel fine nib.",
                ("fountain pen", "ink"),
                45.0,
            ),
            (
                "Gel Pens 24 Colours",
                "Smooth gel ink pens in 24 colours.",
                ("gel pens", "colours"),
                12.0,
            ),
            (
                "Mechanical Pencil 0.5",
                "Metal drafting pencil with a lead-advance button.",
                ("pencil", "drafting"),
                15.0,
            ),
            (
                "Highlighters Pastel x6",
                "Chisel-tip pastel highlighters for study notes.",
                ("highlighters", "study"),
                7.0,
            ),
            (
                "Bottled Ink Blue-Black",
                "50 ml bottle of fountain pen ink.",
                ("ink", "fountain pen"),
                11.0,
            ),
        ],
        "desk setup": [
            (
                "Standing Desk Frame",
                "Electric sit-stand desk frame with two motors and memory presets.",
                ("standing desk", "ergonomic"),
                399.0,
            ),
            (
                "Ergonomic Office Chair",
                "Mesh office chair with lumbar support and adjustable arms.",
                ("office chair", "ergonomic"),
                329.0,
            ),
            (
                "Monitor Arm",
                "Gas-spring arm that holds a 32-inch monitor.",
                ("monitor arm", "vesa"),
                89.0,
            ),
            (
                "LED Desk Lamp",
                "Dimmable desk lamp with colour temperature control.",
                ("lamp", "led"),
                39.0,
            ),
            (
                "Laptop Stand",
                "Aluminium stand that raises a laptop to eye level.",
                ("laptop stand", "aluminium"),
                35.0,
            ),
        ],
        "filing": [
            (
                "Document Shredder",
                "Cross-cut shredder for 10 sheets at a time.",
                ("shredder", "privacy"),
                79.0,
            ),
            (
                "Label Maker",
                "Handheld label printer with a QWERTY keyboard.",
                ("label maker", "labels"),
                39.0,
            ),
            (
                "Lever Arch Files x5",
                "A4 lever arch files for archiving paperwork.",
                ("files", "archive"),
                15.0,
            ),
            (
                "Desk Organiser",
                "Bamboo organiser with trays for pens and papers.",
                ("organiser", "bamboo"),
                25.0,
            ),
            (
                "Paper Ream A4 500",
                "500 sheets of 80 gsm printer paper.",
                ("paper", "printer"),
                6.0,
            ),
        ],
    },
    "fitness": {
        "strength": [
            (
                "Adjustable Dumbbell Pair",
                "Adjustable dumbbells from 2 to 24 kg with a dial; a compact rack fits a"
                " living room or spare bedroom.",
                ("dumbbells", "adjustable", "strength"),
                349.0,
            ),
            (
                "Kettlebell 16 kg",
                "Cast iron kettlebell for swings and presses.",
                ("kettlebell", "strength"),
                49.0,
            ),
            (
                "Resistance Bands Set",
                "Five latex resistance bands with handles and a door anchor.",
                ("resistance bands", "portable"),
                25.0,
            ),
            (
                "Pull-Up Bar Doorway",
                "Doorframe pull-up bar, no screws needed.",
                ("pull-up bar", "doorway"),
                29.0,
            ),
            (
                "Weight Bench",
                "Folding adjustable bench for presses and rows.",
                ("bench", "strength"),
                149.0,
            ),
        ],
        "yoga": [
            (
                "Cork Yoga Mat",
                "Non-slip cork yoga mat, 5 mm, with a carry strap.",
                ("yoga mat", "cork"),
                69.0,
            ),
            (
                "Yoga Block Pair",
                "Two foam blocks to support stretches and poses.",
                ("yoga blocks", "foam"),
                15.0,
            ),
            (
                "Meditation Cushion",
                "Buckwheat zafu cushion for seated meditation.",
                ("meditation", "zafu"),
                39.0,
            ),
            (
                "Foam Roller",
                "High-density foam roller for sore muscles.",
                ("foam roller", "recovery"),
                24.0,
            ),
            (
                "Pilates Ring",
                "Flexible pilates ring for toning thighs and arms.",
                ("pilates", "toning"),
                19.0,
            ),
        ],
        "cycling": [
            (
                "Smart Indoor Trainer",
                "Direct-drive bike trainer that simulates climbs in training apps.",
                ("bike trainer", "indoor cycling"),
                699.0,
            ),
            (
                "Road Bike Helmet",
                "Ventilated road cycling helmet with MIPS.",
                ("helmet", "cycling"),
                99.0,
            ),
            (
                "Bike Lights Set",
                "USB rechargeable front and rear bike lights.",
                ("bike lights", "safety"),
                35.0,
            ),
            (
                "Padded Cycling Shorts",
                "Bib shorts with a chamois pad for long rides.",
                ("cycling shorts", "chamois"),
                79.0,
            ),
            (
                "Bike Repair Kit",
                "Multi-tool, tyre levers and patches in a saddle bag.",
                ("repair kit", "multi-tool"),
                25.0,
            ),
        ],
        "endurance gear": [
            (
                "GPS Sports Watch",
                "GPS watch with heart-rate, pace and interval alerts for marathon training.",
                ("gps watch", "heart rate", "marathon"),
                299.0,
            ),
            (
                "Hydration Vest 5 L",
                "Lightweight vest with soft flasks for trail ultras.",
                ("hydration vest", "trail", "ultra"),
                119.0,
            ),
            (
                "Energy Gels x12",
                "Caffeinated energy gels for race fuelling.",
                ("energy gels", "race fuel"),
                24.0,
            ),
            (
                "Compression Socks",
                "Graduated compression socks for calf support on long races.",
                ("compression", "socks"),
                29.0,
            ),
            (
                "Reflective Jogging Belt",
                "Waist belt with a phone pocket and reflective strips for jogging at dusk.",
                ("waist belt", "jogging", "reflective"),
                19.0,
            ),
        ],
    },
}


def _items() -> tuple[Item, ...]:
    items: list[Item] = []
    for category, kinds in _CATALOG.items():
        for kind, rows in kinds.items():
            for name, description, tags, price in rows:
                slug = "-".join(name.lower().replace("'", "").split())
                items.append(Item(slug, name, category, kind, description, tags, price))
    return tuple(items)


CATALOG = _items()
BY_ID = {item.product_id: item for item in CATALOG}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def product(item: Item) -> Product:
    """The catalog record of ``item``, as the producer would publish it."""
    return Product(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, item.product_id),
        event_time=T0,
        product_id=item.product_id,
        name=item.name,
        description=item.description,
        category=item.category,
        price=item.price,
        tags=item.tags,
    )


MARATHON = "tempo-carbon-marathon-racer"
"""The product "running shoes" must find, though its text says neither word."""

PARAPHRASES: dict[str, str] = {
    # query -> the product it means
    "something to keep my drink hot on the commute": "insulated-travel-mug",
    "a gift for a little girl who loves ponies": "plush-horse-with-brushable-mane",
    "tool to cut the grass": "cordless-lawn-mower-40-cm",
    "help my dog sleep better": "orthopedic-memory-foam-bed",
    "protect my skin at the beach": "spf-50-sunscreen-lotion",
    "noise cancelling earphones for flights": "hush-pro-earbuds",
    "a scary story to read at night": "the-lighthouse-keepers-ghost",
    "workout at home without a gym": "adjustable-dumbbell-pair",
    "keep my cat entertained": "feather-wand-teaser",
    "a place to write down my thoughts every day": "dotted-journal-a5",
}

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "for",
        "my",
        "me",
        "i",
        "at",
        "on",
        "of",
        "in",
        "with",
        "without",
        "who",
        "whom",
        "every",
        "something",
        "some",
        "and",
        "or",
        "down",
        "up",
        "is",
        "are",
        "be",
    ]
)

TASTES: dict[str, tuple[str, ...]] = {
    # a taste -> the kinds of product its users engage with
    "runner": ("road racer", "endurance gear"),
    "cook": ("cookware", "knife", "cookbook", "bakeware"),
    "gamer": ("console", "controller", "gaming accessory"),
    "gardener": ("lawn mower", "pruning", "watering", "seeds and plants"),
}
