"""Write the Port Alder handbook corpus and its retrieval questions (issue 18's example data).

Run from anywhere: ``python experiments/data/make_harbor_handbook.py``. It writes
``harbor_handbook.jsonl`` (one document a line: id, title, text, section) and
``harbor_questions.jsonl`` (question, relevant_ids, expected) beside itself, and
refuses to write either if a check fails (see ``check``).

Port Alder is a fictional harbour town; every word here was written for this
file. Most documents are written out by hand below, one block each: a first line
``id | title`` and the text under it, blocks parted by blank lines. Three
families with a fixed shape (the ferry timetables, the pontoons, the months'
weather) are composed from tables of facts with a few rotating phrasings, so
their facts agree with the hand-written documents that mention them. Nothing is
random: the same script writes the same bytes.

The corpus is meant to make retrievers disagree, so it holds on purpose:

- **near-duplicates**: summer and winter timetables of each ferry route, summer
  and winter berth fees, two car parks, two bike hire shops, two regattas;
- **distractors**: cafés and restaurants with similar names (the Gull Café and
  the Gulls' Rest Tearoom; the Lookout restaurant and the Lookout Fish Bar), two
  boats whose names start with K, three lights with different characteristics;
- **questions** of two kinds besides plain ones: some worded with synonyms the
  text does not use (where BM25, with no stemming, should lose to embeddings)
  and some that hinge on a rare name or number (where BM25 should win).

Measured with promptlab's BM25 (Lucene variant, k1 1.5, b 0.75, English
stopwords, one chunk per document): recall@5 0.75 and MRR@5 0.62 over the 78
questions; by kind, recall@5 is 0.94 on the 45 plain ones, 0.26 on the 23
synonym ones and 1.00 on the 10 exact ones. Keep it well short of 1.0 when
editing, so that embeddings and hybrid retrieval have room to differ.

Ids are stable: a document keeps its id when others are added; add new ones at
the end of their section with the next free number.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS_FILE = HERE / "harbor_handbook.jsonl"
QUESTIONS_FILE = HERE / "harbor_questions.jsonl"

MIN_WORDS, MAX_WORDS = 40, 120
"""Words per document's text (runs of non-space characters, as chunking counts them)."""

MIN_DOCUMENTS, MAX_DOCUMENTS = 250, 350
MIN_QUESTIONS, MAX_QUESTIONS = 60, 80


@dataclass(frozen=True)
class Doc:
    """One handbook document."""

    id: str
    """Section prefix and number, such as ``ferry-007``."""

    title: str
    """A heading for people; kept as metadata, not searched."""

    text: str
    """The prose a retriever searches."""

    section: str
    """The handbook section it belongs to."""


@dataclass(frozen=True)
class Question:
    """A question, the documents that answer it, and the answer's words."""

    question: str
    relevant_ids: tuple[str, ...]
    """The one to three documents whose text contains the answer."""

    expected: str
    """A short answer, found verbatim (ignoring case) in a relevant document's text."""


def parse_blocks(section: str, blocks: str) -> list[Doc]:
    """Documents from hand-written blocks: ``id | title`` then the text, blocks parted by blank lines."""
    docs = []
    for block in re.split(r"\n\s*\n", blocks.strip()):
        head, *body = block.strip().splitlines()
        id_, title = (part.strip() for part in head.split("|", 1))
        docs.append(Doc(id_, title, " ".join(line.strip() for line in body), section))
    return docs


# ---- hand-written documents ---------------------------------------------------------

FERRIES = """
ferry-001 | Ferry routes at a glance
Port Alder is the mainland terminal for three ferry routes, all run by the Alder Sound
Ferry Company. The car ferry MV Alder Queen crosses to Kilbride Pier on Skerrin in about
45 minutes. The small passenger catamaran Kittiwake runs out to Colvay in 25 minutes, and
the open launch Wren shuttles across the estuary to Dunmere in 12 minutes. The Alder Queen
uses Berth 1 and the Kittiwake Berth 3 on the Ferry Pier at the west end of the harbour;
the Wren leaves from the Slip Steps beside the Fish Market.

ferry-008 | Buying ferry tickets
Tickets for every route are sold at the Quay Terminal ticket office, which opens 30
minutes before the first sailing of the day and closes after the last departure. Cards and
contactless payments are accepted everywhere; cash is taken only for Dunmere water bus
singles. Booking a Skerrin car space online at least 24 hours ahead earns a 10 per cent
discount. Foot passengers for Colvay or Dunmere can simply pay the deckhand on board.

ferry-009 | Skerrin fares
An adult return to Skerrin costs £14.50 and a child return (ages 5 to 15) £7; children under
five travel free. A car costs £48 return including the driver, while campervans longer than
6 metres pay £72. Bicycles are £3 each way and kayaks or canoes £6. Islanders holding a
Skerrin resident card pay half the adult fare. Day-return tickets are valid only on the
date printed on them.

ferry-010 | Colvay and Dunmere fares
A return trip to Colvay on the Kittiwake costs £9 for adults and £4.50 for children, and
dogs go free. The Dunmere water bus charges £2.80 for a single crossing, or £22 for a
ten-trip card that never expires. Commuters who cross to Dunmere every day can buy a
quarterly season ticket for £95, sold only at the Quay Terminal and tied to a photocard.

ferry-011 | The MV Alder Queen
The Alder Queen was built in 1998 at the Corran yard and took over the Skerrin crossing in
2004. She carries up to 32 cars and 220 passengers, with a forward lounge, a café counter
called the Galley and a lift up from the car deck. Her older sister, the MV Alder Princess,
lies at Dunmere as the reserve vessel and stands in whenever the Queen is away for repairs
or her annual overhaul.

ferry-012 | The catamaran Kittiwake
Kittiwake is a 14-metre aluminium catamaran licensed for 60 passengers and 12 bicycles. She
has no vehicle deck, just a cabin and an open upper deck that birdwatchers love on the way
out to Colvay. In summer, and only on request, she calls at the Gannet Rock landing to drop
off or collect the seabird researchers who camp there. Her skipper for the last eleven
seasons has been Iona Baird.

ferry-013 | The Wren water bus
The Wren is an open-sided launch with seats for 24 that ferries foot passengers between the
Slip Steps in Port Alder and the Town Quay in Dunmere. Prams and wheelchairs can be wheeled
aboard around high tide, but near low water the gangway is steep and the crew may suggest
taking the number 47 bus instead. Bicycles are never carried on the Wren.

ferry-014 | February overhaul of the Alder Queen
Each February the Alder Queen spends about three weeks in dry dock at Corran for her annual
overhaul. While she is away the MV Alder Princess covers the Skerrin route, which cuts
capacity to 18 cars, so booking ahead is strongly advised. The winter timetable still
applies, except that the 15:20 departure leaves at 14:50 because the Princess is slower.

ferry-015 | When sailings are cancelled
Sailings can be cancelled at short notice when the wind on the Sound exceeds Force 7 or
visibility falls below 200 metres. The decision about the first sailing is made at 06:30
and posted on the ferry status line, 01632 960 210, on the board outside the Quay Terminal
and by text message to everyone with a booking. Tickets for a cancelled crossing are
refunded in full or moved to another sailing free of charge.

ferry-016 | Dogs on the ferries
Dogs are welcome on all three ferries. On the Alder Queen they must stay on a lead on the
outside decks or in the pet lounge beside the stern stairs; only assistance dogs may enter
the main lounge and the Galley. On the Kittiwake and the Wren dogs travel free but should be
kept off the seats. Muzzles are not required on any crossing.

ferry-017 | Cycles on the ferries
Bicycles travel on the car deck of the Alder Queen, which has racks for 20. Cyclists should
arrive 20 minutes before departure and wait in lane 4. Electric bikes are accepted as long
as the battery stays fitted to the bike. The Kittiwake carries up to 12 bicycles on its bow
rack, but the Wren takes none, so riders heading for Dunmere must use the Railway Path.

ferry-018 | Checking in with a vehicle
Drivers going to Skerrin must check in at the marshalling lanes on the Ferry Pier at least
30 minutes before departure; spaces not claimed 15 minutes before sailing are released to
the standby queue. Vehicles taller than 2.4 metres, such as vans with roof boxes, should use
lane 1 and tell the marshal. Once parked on the car deck, engines must be switched off and
handbrakes applied.

ferry-019 | Accessible travel on the ferries
The Alder Queen has a lift from the car deck to the passenger lounge, two accessible
toilets and priority seating beside the Galley. Wheelchair users arriving on foot can board
by the side door from the Ferry Pier ramp if they tell the ticket office when they arrive.
On the Kittiwake the crew will help people aboard, but the upper deck is reached only by a
steep ladder, so the cabin is the better choice.

ferry-020 | Freight and parcels for Skerrin
Goods for the shops and farms on Skerrin travel as freight on the 07:15 and 14:30 sailings
in summer and on the 07:40 sailing in winter. Parcels can be handed in at the freight shed
behind the Quay Terminal before 06:45 with a consignment note; a parcel weighing up to 20 kg
costs £8. Livestock goes only on the first sailing on Tuesdays, by arrangement with the
purser, Donald Munro.

ferry-021 | Group travel
Schools and groups of 15 or more can book Skerrin day trips at a group rate of £9 per adult
return, with one free leader place for every ten pupils. Bookings go to the group desk at
least seven days before travel, by email to groups@aldersoundferries.example. The Kittiwake
accepts groups of up to 40 for Colvay, but only on weekday mornings, when the puffin colony
is quieter.

ferry-022 | Holiday sailings
No ferries run on any route on Christmas Day or New Year's Day. On Boxing Day the Skerrin
ferry makes a single return trip, leaving Port Alder at 11:00 and coming back at 13:00. On
the Saturday of the Port Alder Regatta an extra late sailing to Skerrin leaves at 23:15,
after the fireworks, so islanders can watch the display and still get home.

ferry-023 | Food and drink on board
The Galley, the café counter aboard the Alder Queen, serves hot drinks, bacon rolls and
slabs of Skerrin tablet from the first sailing until 18:00, and takes cards only. There is
no food for sale on the Kittiwake or the Wren. Visitors heading to Colvay, which has no shop
and no tap water, should bring a packed lunch and plenty to drink.

ferry-024 | Left behind on a ferry
Anything left on a ferry is taken to the Quay Terminal at the end of the day and logged.
Call the terminal on 01632 960 215 between 09:00 and 17:00 to ask about an item. Property
is kept for 28 days; after that, clothing goes to the Lifeboat charity shop and anything
valuable is handed to the police office in the Custom House.
"""

MOORINGS = """
mooring-001 | Layout of the harbour
The harbour has two parts. The Outer Harbour, sheltered by the breakwater, can be entered at
any state of tide and holds the Ferry Pier, the fuel berth on the West Pier and pontoons A,
B and C. The Inner Basin, behind the sill gate, never dries below 2.5 metres and holds
pontoons D, E and F, mostly for residents' boats. The harbour office looks over both from
the North Quay.

mooring-002 | The sill gate
A sill gate separates the Outer Harbour from the Inner Basin. It opens about three hours
either side of high water; a green light on the gate tower shows it is open and a red light
that it is shut. Boats waiting for the gate can tie up on the waiting pontoon at the end of
the East Quay. A tide board beside the gate shows the depth over the sill in metres.

mooring-003 | Arriving by sea
Visiting skippers should call Port Alder Harbour on VHF channel 12 as they pass the
breakwater light, giving the boat's name, length and draught. The berthing team will
allocate a berth, usually on the hammerhead of pontoon C. Crews arriving after the office
has closed may take any free space on the visitors' pontoon and should report to the harbour
office the next morning.

mooring-010 | Reserving a visitor berth
Visitor berths can be reserved up to 60 days ahead through the harbour office, but half of
the visitor spaces are always kept free for boats that turn up on the day. A reservation is
held until 20:00 on the arrival date; after that the berth may be given to someone else.
Rafting up to three boats deep is normal in July and August.

mooring-011 | Rafting etiquette
When rafting alongside, the outside boat should run its own bow and stern lines ashore as
well as lines to the boat inside it. Crews crossing another yacht go over the foredeck,
never through the cockpit, and keep noise down after 22:00. Because they are less
convenient, boats moored on the outside of a raft get a 20 per cent discount on the nightly
fee.

mooring-012 | The harbourmaster
The harbourmaster, Morag Tennant, has held the post since 2016 and is the harbour's
statutory authority under the Port Alder Harbour Order 1974. Her deputy, Callum Reid, leads
the berthing team. Disputes over berths, speeding in the harbour and damage to moorings are
referred to her, and every vessel in the harbour must follow her directions.

mooring-013 | Harbour office opening hours
The harbour office on the North Quay is open from 08:00 to 20:00 between May and September
and from 09:00 to 17:00 between October and April. It sells shower tokens, fuel cards and
charts, keeps the visitors' book and holds post for crews. Outside opening hours the duty
harbour assistant answers VHF channel 12 and the office telephone, 01632 960 100.

mooring-014 | Annual berths and the waiting list
Local owners rent annual berths in the Inner Basin from a waiting list kept by the harbour
office. There are about 140 annual berths and the list is roughly four years long. Holders
must show third-party insurance of at least £3 million every March and keep their boat
seaworthy; a berth left empty for a whole season can be offered to the next name on the
list.

mooring-015 | Swinging moorings in the Pool
Twenty-two swinging moorings lie in the Pool, the sheltered water off Shell Bay. The harbour
team lifts and inspects them every April, and the chains are renewed every five years.
Visitors may pick up any yellow buoy marked with a black V; white buoys are private.
Crews come ashore by tender to the dinghy pontoon beside the Crabbing Steps.

mooring-016 | Tenders at the dinghy pontoon
Tenders may be left at the dinghy pontoon by the Crabbing Steps for up to 72 hours. Tie them
with a painter no longer than three metres, tilt outboard engines up and mark each tender
with the name of its parent boat. Unmarked tenders, or any left longer than a week, are
taken to the boatyard and released only after a £15 handling fee is paid.

mooring-017 | Alder Boatyard
Alder Boatyard, on the Ropewalk behind the East Quay, runs the harbour's 25-tonne travel
hoist and has hard standing for about 60 boats. Lift-outs are booked through the yard
office, open on weekdays from 08:00 to 16:30. Pressure-washing hulls is allowed only on the
wash-down pad, whose drain traps flakes of antifouling paint before they reach the sea.

mooring-018 | Holding-tank pump-out
A free pump-out station for holding tanks stands at the end of pontoon B. It runs on a
push-button vacuum pump and can be used at any hour. Emptying a toilet directly into the
water anywhere inside the harbour walls is forbidden and carries a fixed penalty of £250.

mooring-019 | The fuel berth
The fuel berth at the head of the West Pier sells marine diesel, petrol and engine oil.
Summer hours are 08:00 to 18:00 every day; in winter it opens 09:00 to 12:00, Monday to
Saturday. Boats must come alongside bow in, stop their engines and make sure nobody smokes
aboard while fuelling. Fuel is paid for at the harbour office or with a harbour fuel card.

mooring-020 | Shore power and fresh water
Every pontoon has fresh water taps and shore power pillars. Water is free, but hoses left
running unattended will be disconnected. On pontoons A to D electricity is included in the
nightly supplement paid with the berth fee; on E and F it is metered and billed to annual
holders every quarter. Use only blue 16-amp plugs in good condition.

mooring-021 | The harbour launch Kelpie and pilotage
The harbour's workboat, Kelpie, is a 9-metre launch that staff use to lay moorings, tow
disabled boats and carry the pilot. Pilotage is compulsory for vessels over 40 metres long
entering Port Alder. The pilot boards at the Fairway buoy, about one mile south of the
breakwater, and a request needs 12 hours' notice on channel 12.

mooring-022 | Leaving a boat unattended
Owners leaving a visiting boat for more than three days must tell the harbour office and
leave a phone number and the keys in a sealed envelope. The berthing team checks lines
after gales and will add fenders or chafe guards if needed, charging £20 per visit. Boats
left unattended for more than 14 nights need written agreement from the harbourmaster.
"""

FEES = """
fee-001 | Visitor berth charges
Overnight visitor berths cost £3.20 per metre of boat length from 1 April to 30 September
and £2.40 per metre from 1 October to 31 March. Boats shorter than 8 metres are charged as
8 metres. Multihulls pay one and a half times the monohull rate because of the space they
take. The seventh night of a consecutive stay is free, and fees are paid at the harbour
office before 10:00 on the day of departure.

fee-002 | Short daytime stays
Boats staying up to four hours in daylight pay a flat short-stay fee of £12, whatever their
length. The charge is waived for boats that buy at least 50 litres of fuel at the fuel
berth. A boat still alongside at 18:00 is charged the full overnight rate instead.

fee-003 | Electricity supplement
Shore power on the visitor pontoons costs £4 per night for a 16-amp supply, added to the
berth fee. The hammerhead of pontoon C also has 32-amp pillars for larger yachts, charged at
£7 per night. Boats that plug in without paying are charged double once found, and the
harbour team may lock the pillar.

fee-004 | Harbour dues for commercial vessels
Fishing boats landing catch at Port Alder pay harbour dues of 3 per cent of the first-sale
value, collected through the Fish Market auction. Other commercial vessels pay £0.85 per
gross tonne for each visit, and cruise ship tenders landing passengers are charged £2 a
head. Dues are invoiced monthly to registered operators.

fee-005 | Slipway charges
The public slipway at Shell Bay is free for anything launched by hand, such as kayaks,
dinghies and paddleboards. Launching from a trailer costs £10 a day, or £85 for an annual
slipway permit, which also lets you leave the empty trailer in the Ropewalk car park. Jet
skis must show a registration number on the permit as well.

fee-006 | Harbour Car Park charges
The Harbour Car Park on the North Quay is the closest to the ferries and costs £1.60 an
hour, up to £9 for 24 hours. It has 90 spaces, fills by mid-morning in summer and is closed
during Regatta weekend. Payment is at the machine by the exit or through the PayQuay app,
location code 4471.

fee-007 | Ropewalk car park charges
The Ropewalk long-stay car park, a five-minute walk from the Ferry Pier, is the cheaper
place to leave a car: £5 a day or £25 a week. It is the recommended choice for anyone
visiting Skerrin or Colvay on foot. Its 220 spaces rarely fill, and motorhomes use the marked
bays at the far end.

fee-008 | Storage ashore for the winter
Winter storage ashore at Alder Boatyard costs £65 a month for boats up to 8 metres long and
£9 per metre a month for anything bigger, with a minimum of three months. A lift-out and
relaunch together cost £210 for boats under 10 metres. Owners who work on their boat
themselves must sign the yard's safety rules before starting.

fee-009 | Annual berth fees
Annual berths in the Inner Basin cost £160 per metre a year, due by 1 April. The Outer
Harbour's annual berths are cheaper at £140 per metre because they are more exposed to
easterly swell. Paying in ten monthly instalments by direct debit adds a £25 administration
charge.

fee-010 | Discounts on berths
Members of recognised cruising associations get 10 per cent off visitor berth fees on
showing a membership card. Boats from the Dunmere Sailing Club have reciprocal rights: two
free nights a season. Lifeboat and coastguard vessels, and boats taking part in the
Regatta, berth free of charge.

fee-011 | Sea angling permits
Fishing with rod and line from the West Pier needs a pier angling permit, which costs £3
for a day or £30 for a year. Permits are sold at Brodie's Chandlery and the harbour office.
Children under 12 fish free when accompanied. No permit is needed for crabbing from the
Crabbing Steps.

fee-012 | Street trading pitches
Traders who want to sell food or goods on the quays during Regatta weekend or the Oyster and
Ale Festival pay £45 per pitch per day. Applications open on 1 March and need food hygiene
and public liability certificates. Pitches are allocated by the harbour office in April;
local businesses get first choice.

fee-013 | Cancelling a berth booking
Berth fees paid in advance are refunded in full if a booking is cancelled at least 48 hours
before arrival. Later cancellations are refunded at half the fee, unless a gale warning or a
harbour closure prevented the visit, in which case the whole fee is returned. Refunds take
up to ten working days.

fee-014 | Hire of the travel hoist and crane
Besides lift-outs, the boatyard hires out its 25-tonne travel hoist for hull inspections at
£95 for a 30-minute hold in the slings. The mast crane on the East Quay costs £40 per lift,
and yard staff must operate both. Bookings are taken at least two working days in advance.
"""

LIGHTHOUSE = """
lighthouse-001 | Alder Head Lighthouse
Alder Head Lighthouse stands on the headland 2 km south of the harbour. Its white tower is
26 metres tall, and the light sits 41 metres above high water. It was designed by the
engineer Josiah Brennock and first lit on 1 November 1842. The Port Alder Heritage Trust
owns the buildings, while the light itself is run by the Coastal Lights Board.

lighthouse-002 | The light and its character
Alder Head shows two white flashes every 15 seconds, written on charts as Fl(2) W 15s, and
can be seen 18 nautical miles away in clear weather. A red sector covers the Carrag Rocks to
the east and warns vessels off the reef. Since 2011 the light has come from an LED array,
which uses less power than a household kettle.

lighthouse-003 | Automation and the last keeper
The lighthouse was automated in March 1987 and is now monitored remotely from the Coastal
Lights Board's operations room. The last principal keeper, Euan Galbraith, served 22 years
at Alder Head and lit the lamp for the final time on 14 March 1987. His logbooks and his
brass-buttoned jacket are on show in the museum.

lighthouse-004 | Life of the keepers
Three keepers and their families lived at Alder Head in the row of cottages beside the
tower. Each man stood four-hour watches, winding the clockwork that turned the lens every
half hour through the night. Children walked the 2 km into Port Alder for school, and
supplies came out by pony and cart once a week until a road was laid in 1936.

lighthouse-005 | Climbing the tower
Guided climbs of the tower run from April to October, Wednesday to Sunday, leaving every
half hour between 10:30 and 16:00. There are 139 steps up to the lantern gallery. Tickets
cost £6 for adults and £3.50 for children, and for safety reasons children under 8 may not
climb. Climbs are stopped when the wind at the gallery is stronger than 40 mph.

lighthouse-006 | The Lighthouse Museum
The former keepers' cottages house the Lighthouse Museum, open daily from April to October,
10:00 to 17:00, and at weekends in winter, 11:00 to 15:00. Entry is free and donations are
welcome. Displays include the great lens made in 1841, keepers' logbooks, a recreated 1950s
keeper's kitchen and the figurehead of the barque Margarethe. The ground floor is level for
wheelchairs.

lighthouse-007 | The old foghorn
Until 2005 a foghorn on the cliff below the tower gave two blasts every 60 seconds whenever
visibility was poor. Locals called it the Alder Moo. It was switched off once satellite
navigation made it redundant, but it is kept in working order in its horn house on the cliff and is
sounded once a year, at noon on Lighthouse Day.

lighthouse-008 | Walking to Alder Head
The coast path from the harbour to Alder Head is 2 km long and takes 35 to 40 minutes on
foot. It climbs 60 metres past Shell Bay and the old lime kiln. There is a small pay and
display car park at the lighthouse (£3 a visit), but it is usually full by 11:00 in summer.
Beyond the kiln the path is too rough for wheelchairs and buggies.

lighthouse-009 | Staying at the lighthouse
The Assistant Keeper's Cottage at Alder Head is let as a holiday home sleeping four, from
£620 a week in summer and £380 in winter. Changeover day is Friday. Guests get free museum
entry and a private sunset visit to the lantern gallery on one evening of their stay. Dogs
are not allowed because sheep graze the headland.

lighthouse-010 | Building Alder Head
Building the lighthouse took three years and some 46 men. The granite came from the Carn
Dubh quarry on Skerrin and crossed the Sound on flat-bottomed barges. One mason, Angus Lyle,
died after a fall from the scaffolding in 1841; a plaque in the museum remembers him, and
the path to the tower is still called Lyle's Walk.

lighthouse-011 | The great lens
The original first-order lens, made in Paris in 1841, weighs nearly three tonnes and once
floated in a bath of mercury so that a small clockwork weight could turn it. It was taken
down in 2011 when the LED light was fitted, and now stands, slowly turning, in the
museum's lens room.

lighthouse-012 | Lighthouse Day
Lighthouse Day falls on the first Saturday of July. Tower climbs are free all day (the age
limit still applies), the museum opens until 20:00, and the old foghorn is sounded at 12:00.
The Port Alder Shanty Men sing on the lawn in the afternoon, and the Gulls' Rest Tearoom
stays open late.

lighthouse-013 | Harbour lights
Two smaller lights guide boats into the harbour itself. The light on the end of the
breakwater flashes green every 5 seconds (Fl G 5s), and the East Pier head shows a fixed red
light (F R). Both are maintained by the harbour team, not the Coastal Lights Board, and any
fault should be reported on channel 12 at once.

lighthouse-014 | Weddings at the lighthouse
Small weddings and civil partnerships for up to 30 guests can be held in the museum garden
at Alder Head between May and September. The Heritage Trust charges £750 for the garden,
and couples may have photographs on the lantern gallery afterwards. Bookings open 18 months
ahead and Saturdays go quickly.

lighthouse-015 | Volunteering at the museum
The Lighthouse Museum relies on about 30 volunteer guides, who lead tower climbs and look
after the displays. New volunteers attend a training morning in March and commit to at least
two shifts a month. Volunteers get a fleece, free tearoom coffee on shift days and an
annual outing by boat to see the Carrag Rocks beacon.

lighthouse-016 | Stargazing at Alder Head
Away from the street lights of the town, Alder Head has some of the darkest skies on this
coast. On clear Friday evenings from October to March the Dunmere Astronomical Society sets
up telescopes in the lighthouse car park; anyone may come along for free. Red torches are
preferred, and the tower lamp is shielded on the landward side.

lighthouse-017 | The Carrag Rocks beacon
The Carrag Rocks, a reef a mile east of Alder Head, are marked by an iron beacon topped with
a black and red cage. It was put up in 1912, three years after the barque Margarethe was
wrecked there. The beacon carries no light; at night the red sector of the lighthouse
covers the reef instead.
"""

EVENTS = """
event-001 | Port Alder Regatta
The Port Alder Regatta has been held on the second weekend of August since 1886. Saturday is
given to sailing races in the Pool and out on the Sound, with the Alder Cup for keelboats
as the main prize. Sunday brings rowing gig races, the raft race and the greasy pole over
the Inner Basin. Fireworks are fired from a barge off the breakwater at 22:00 on the
Saturday.

event-002 | Entering Regatta races
Entry forms for Regatta sailing races are available from the Port Alder Yacht Club from 1
June and must be returned by the Wednesday before the event. Entry costs £20 per boat for
sailing classes and £5 per swimmer for the harbour swim. The skippers' briefing is at 09:00
on the Saturday in the Yacht Club bar, and attendance is compulsory.

event-003 | The greasy pole
The greasy pole is the Regatta's oldest contest. A spruce pole, smeared with lard, juts 8
metres out over the Inner Basin from the North Quay, and competitors try to walk along it
to grab a flag at the end. Entrants must be 16 or over and able to swim. A safety boat waits
underneath, and the winner takes home the Herring Cup.

event-004 | Regatta weekend traffic and parking
During Regatta weekend the North Quay is closed to traffic from 08:00 on Saturday until
20:00 on Sunday, and the Harbour Car Park is shut. Extra parking is laid on in Hollins
Field on the Dunmere road at £5 a day, with a shuttle bus to the Custom House every 15
minutes.

event-005 | Skerrin Regatta
Skerrin holds its own smaller regatta on the last Saturday of July in Kilbride Bay. There
are races for the island's clinker dinghies, a tug-of-war between the north and south ends
of the island and a ceilidh in the village hall that runs past midnight. The ferry company
adds a return sailing at 23:30 for visitors from Port Alder.

event-006 | Oyster and Ale Festival
The Oyster and Ale Festival fills the Fish Market Hall on the last weekend of September.
Oysters from the Colvay beds are served raw, grilled and smoked; a dozen local brewers pour
cask ales, and the oyster-opening championship starts at 15:00 on the Saturday. Tickets
cost £8 and include a souvenir glass. Under-18s are welcome until 19:00 with an adult.

event-007 | Lantern Night
On 21 December, the longest night of the year, hundreds of people carry paper lanterns from
St Brannoc's Church down Chapel Brae to the harbour, setting off at 18:00. The lanterns are
hung along the North Quay railings, and the procession ends with carols and mulled apple
juice outside the Custom House. Lantern-making workshops run in the Community Hall on the
two Saturdays before.

event-008 | Blessing of the Boats
On the first Sunday in May, at 14:00, the minister of St Brannoc's blesses the fishing fleet
from the end of the East Pier. The boats are dressed overall with signal flags and sail in
procession past the pier, sounding their horns. Afterwards, tea and rolls are served in the
Fish Market Hall, paid for by the Fishermen's Mutual.

event-009 | Sea Shanty Weekend
Choirs from all round the coast come to the Sea Shanty Weekend on the third weekend of June.
They sing in the pubs and on the Custom House steps through Saturday, and the main concert is
in the Fish Market Hall on Saturday night. The hosts, the Port Alder Shanty Men, were founded
in 1994 and rehearse in the Anchor Inn on Monday evenings.

event-010 | Saturday Harbour Market
Every Saturday from April to December, between 09:00 and 13:00, the Harbour Market fills
the Fish Market Hall with about 30 stalls: local cheese, Skerrin lamb, smoked fish, bread,
plants and crafts. From January to March it shrinks to the first Saturday of the month only.
Stallholders pay £15 a table, and dogs on leads are allowed.

event-011 | The Crabbing Championship
The Crabbing Championship is held at the Crabbing Steps on the East Quay on the first Sunday
of August. Children under 14 have one hour, from 10:00, to catch as many shore crabs as they
can, using lines with bait bags and no hooks. Every crab is counted, then returned to the
water alive, and the winner receives the Golden Bucket.

event-012 | New Year's Day Dook
At noon on 1 January swimmers run into the sea at Sandy Bay for the New Year's Day Dook,
raising money for the Port Alder lifeboat. Fancy dress is encouraged, and registration costs
£10 at the Anchor Inn from 10:30. Lifeboat crew stand by in the water, and hot soup is served
afterwards in the Sandy Bay beach hut.

event-013 | Skerrin Show
The Skerrin Show, the island's agricultural show, takes place on the third Thursday of July
at Balnagard Farm, a mile from Kilbride Pier. There are classes for sheep, cattle, baking and
vegetables, and a sheepdog trial in the afternoon. Extra ferries leave Port Alder at 08:30
and return at 19:00 on show day.

event-014 | Herring Day
Herring Day, on the second Saturday of June, remembers the town's herring fishing. Volunteers
in costume show how the herring girls gutted and packed fish into barrels on the quay,
there are kipper-smoking demonstrations outside Kerr's, and the old sail loft opens for
tours. Everything is free except the herring supper in the Anchor Inn.

event-015 | Harbour Film Club
From November to March the Harbour Film Club shows a film in the Community Hall on the first
Friday of each month at 19:30. Tickets are £5 at the door, and membership for the whole
season is £20. Tea and home baking are served in the interval, and the season ends with a
night of old films of the town.

event-016 | Alder Arts Trail
Over the May bank holiday weekend, 18 artists and makers open their studios for the Alder
Arts Trail. Painters, potters, a glass-blower and a boatbuilder who carves half-models take
part. Maps are free at the Tourist Information Centre, and the Harbour Hopper minibus runs a
special loop past every studio.

event-017 | Hiring the Fish Market Hall
The Fish Market Hall can be hired for private events after 13:00 on weekdays, once the
morning auction has finished and the floor has been washed down, and all day at weekends
when no market is on. Hire costs £180 for an evening, and the hall holds 250 standing or 140
seated. Bookings go through the harbour office.

event-018 | The raft race
The raft race on Regatta Sunday starts from the Slip Steps at 14:00 and crosses 400 metres
of the Outer Harbour to finish at the Crabbing Steps. Rafts must be homemade, with no engines and no more than six crew,
and every paddler wears a buoyancy aid. Judges give a separate prize for the best-dressed
crew, which usually matters more than winning.

event-019 | Smugglers' Ghost Walk
On the evenings of 28 to 31 October the Smugglers' Ghost Walk sets off from under the Custom
House clock at 19:00. The 90-minute walk tells the stories of the Brandy Cave, the drowned
exciseman and the grey lady of Chapel Brae. Tickets are £7, the route has steps, and
children under 10 may find it frightening.

event-020 | Christmas lights
The Christmas lights are switched on at 17:00 on the first Saturday of December. Father
Christmas arrives in the harbour aboard the inshore lifeboat and walks up to the Custom
House, where the lights are switched on by the oldest fisherman in the town. The Anchor Inn
serves free mince pies afterwards.

event-021 | Tidewrack Book Festival
The Tidewrack Book Festival runs for four days over the October school half-term. Authors
talk in the Community Hall, the church and the back room of the Tidewrack Bookshop, with a
strong list of sea writing and children's events each morning. Most talks cost £6, and the
festival's poetry walk to Alder Head is free.

event-022 | Harbour swim
The Regatta harbour swim is a 750-metre race from the Slip Steps round a buoy in the Outer
Harbour and back, held at 11:00 on the Regatta Sunday, the only time swimming is allowed
inside the harbour walls. Swimmers must be over 14, wear a bright cap and have completed a
qualifying open-water swim.
"""

SAFETY = """
safety-001 | No swimming in the harbour
Swimming is not allowed anywhere inside the harbour walls, including from the pontoons and
the Slip Steps, because of boat traffic and the strong current through the sill gate. The
nearest safe beach is Sandy Bay, 600 metres east of the harbour, where lifeguards patrol
between the red and yellow flags from 10:00 to 18:00 every day in July and August.

safety-002 | Beach flags at Sandy Bay
Lifeguards at Sandy Bay use the standard beach flags. Red and yellow flags mark the area they
watch, where swimmers and bodyboarders should stay. Black and white chequered flags mark a
zone for surfboards and kayaks, where swimming is not allowed. A red flag means danger: do
not go in the water at all. An orange windsock shows an offshore wind, when inflatables must
not be used.

safety-003 | Children on the pontoons
Children under 12 must wear a lifejacket or buoyancy aid at all times on the pontoons and
the Ferry Pier ramps, even when holding an adult's hand. The harbour office lends child
lifejackets free of charge against a £10 deposit, returned when the lifejacket comes back.
Running on the pontoons is not allowed.

safety-004 | Lifebuoys and quay post numbers
Lifebuoys hang on red posts about every 50 metres along the quays and at the head of every
pontoon. Each post carries a code, such as NQ-7 on the North Quay or WP-3 on the West Pier,
painted in white. If you call 999 about someone in the water, give that code: it tells the
coastguard and lifeboat exactly where you are.

safety-005 | Speed limit on the water
The speed limit in the harbour, the entrance channel and the Pool is 4 knots, and no vessel
may make a wash near the pontoons. Jet skis must leave by the marked channel and may not be
used within 300 metres of Sandy Bay between 1 May and 30 September. Speeding can be reported
to the harbour office with the boat's name or sail number.

safety-006 | Giving way to the ferries
The entrance between the breakwater and the East Pier is only 45 metres wide. Ferries have
priority in it, and small craft must keep to the starboard side and out of the way. When the
Alder Queen sounds one long blast she is about to leave Berth 1; all boats nearby should hold
back until she has cleared the breakwater.

safety-007 | Where fishing and crabbing are allowed
Crabbing with lines and bait bags, but never hooks, is allowed only from the Crabbing Steps
on the East Quay. Rod fishing is allowed from the West Pier with a permit, but not from the
Ferry Pier, the fuel berth or any pontoon. Used line and hooks must be taken home or put in
the line bins, because they tangle birds and seals.

safety-008 | Crossing to Inchbeg
At low tide a sand bar, the Inchbeg Strand, links Shell Bay to the small tidal island of
Inchbeg. It is safe to cross from two hours before low water until two hours after; safe
times for each day are posted in the Shell Bay car park. The tide comes in faster than a
person can walk. If you are caught, climb the refuge tower halfway across and call 999.

safety-009 | The cliff path beyond Alder Head
The coast path from Alder Head to Lobster Point runs close to unfenced cliffs up to 50
metres high. Keep to the path, keep dogs on leads and stay well back from the edge, which is
undercut in places. A short stretch above the Brandy Cave has been closed since a rockfall
in 2022; follow the signed diversion inland. The path is closed in gales.

safety-010 | The mudflats at Dunmere
At low tide the Alder estuary uncovers wide mudflats on the Dunmere side. They look firm but
are soft and deep in places, and the tide floods across them quickly. Never walk out onto
the flats to fetch a ball, a dog or a stranded dinghy. Call 999 and ask for the coastguard,
who have a mud rescue team.

safety-011 | Fire on the pontoons
Barbecues and open fires are banned on the pontoons and quays. Fire points with extinguishers
and an alarm call point stand at the head of each pontoon. If a boat catches fire, shout
"Fire!", press the alarm, call 999 and ask for both the fire service and the coastguard, and
move everyone ashore. Do not try to move a burning boat.

safety-012 | Cold water
The sea off Port Alder rarely gets warmer than 14°C, even in August, and in spring it can be
as cold as 8°C. Sudden immersion causes cold water shock: gasping and panic for the first
minute. If you fall in, float on your back until your breathing settles, then signal for
help or swim to the nearest ladder. Every pontoon has a ladder at its outer end.

safety-013 | Fuel and oil spills
Report any spill of fuel or oil at once to the harbour office on channel 12 or 01632 960 100.
Spill kits with absorbent booms and pads are kept in yellow bins at the fuel berth and at the
head of pontoon B. Never use washing-up liquid on a diesel sheen: it only sinks the oil and
makes it harder to recover.

safety-014 | Ice and slippery quays
On frosty mornings the pontoon walkways, gangways and the Slip Steps become very slippery.
The harbour team grits the quays by 07:30 and puts salt on the gangways, but the pontoons
themselves cannot be gritted. Wear boots with a good grip, hold the handrails, and take
extra care on the green algae that grows on the lower Slip Steps.

safety-015 | Diving in the harbour
Diving within the harbour or in the entrance channel needs written permission from the
harbourmaster, applied for at least 48 hours ahead. Divers must fly the blue and white A
flag, keep a surface cover boat and stay out of the fairway whenever a ferry is due. Hull
cleaning by divers is not allowed while a boat is on a visitor berth.

safety-016 | Drones
Drones may be flown over the harbour, the ferry berths or a Regatta crowd only with the
harbour office's written permission, which needs three days' notice and proof of the
pilot's registration. Drones are banned at all times over the Seal Skerries and the Colvay
puffin cliffs, where they panic nesting birds and hauled-out seals.

safety-017 | Kayaks and paddleboards
Paddlers should launch from the Shell Bay slipway, not from the harbour, and keep out of the
fairway and the harbour entrance. Everyone must wear a buoyancy aid, and paddleboarders
should use a leash. Tell someone ashore where you are going and when you will be back, and
carry a waterproof phone or a handheld VHF radio.

safety-018 | Gangways at low tide
At low water on spring tides the gangways down to the pontoons become as steep as one in
three. Wheelchair users, people with prams and anyone unsteady on their feet are advised to
use the gangway to pontoon A, which is twice as long and much gentler than the others. Staff
will help on request.

safety-019 | Lost children
If a child goes missing on the harbour front, tell any member of harbour staff at once; they
will radio round the quays and close the gates to the pontoons. The harbour office is the
meeting point for lost children. During the Regatta a Lost Children tent stands beside the
Custom House, and free wristbands for a parent's phone number are handed out there.

safety-020 | Water quality at Sandy Bay
The water at Sandy Bay is tested every week from May to September and was rated Excellent in
2023. After heavy rain the Alder Burn can carry pollution onto the beach, and swimming is
then advised against for 48 hours; a notice goes up on the lifeguard hut. Results are also
posted at the Tourist Information Centre.

safety-021 | Rip current at Shell Bay
On a falling tide a rip current forms beside the rocks at the western end of Shell Bay,
pulling swimmers out towards the Pool. If you are caught in it, do not fight against it:
float, raise a hand and shout for help, or swim parallel to the beach until you are free of
the current. There are no lifeguards at Shell Bay.

safety-022 | Carbon monoxide on boats
Every boat with a cabin heater, cooker or engine that can run while people sleep should have
a carbon monoxide alarm. Never run a generator or a portable barbecue inside a cabin or
cockpit tent. Brodie's Chandlery sells marine CO alarms, and the harbour office will fit a
loan alarm for one night if yours has failed.

safety-023 | Gas bottles on boats
Gas cylinders must be stored in a locker that drains overboard, and turned off at the
cylinder when not in use. Empty cylinders can be exchanged at Brodie's Chandlery, which
stocks butane and propane. Leaking cylinders should never be left on the quay; tell the
harbour office, who will remove them safely.
"""

BUSINESSES = """
business-001 | The Gull Café
The Gull Café sits on the North Quay opposite the ferry ticket office and opens at 07:00 every
day to catch the first sailings. It is known for bacon rolls, strong coffee and crab
sandwiches made with Colvay crab. It closes at 17:00, or 15:00 from November to March. Dogs
are welcome inside, and there are six tables out on the quay.

business-002 | The Gulls' Rest Tearoom
The Gulls' Rest Tearoom is in the old engine house beside Alder Head Lighthouse. It serves
afternoon teas with cheese scones, and its lemon drizzle cake won a regional baking award in
2022. It is open from 10:30 to 16:30 between Easter and October, closed on Tuesdays. Inside
there are 28 seats, and in fine weather the garden tables look out over the Sound.

business-003 | The Anchor Inn
The Anchor Inn on Harbour Street has been a pub since 1790. Food is served from 12:00 to
14:30 and 17:30 to 21:00, and the fish and chips use haddock landed that morning. There is
live folk music on Thursday nights, and the Shanty Men rehearse in the back room on Mondays.
Six bedrooms upstairs are let from £85 a night.

business-004 | The Binnacle
The Binnacle is a small cocktail bar in the vaulted cellar under the Custom House, open
Thursday to Sunday from 17:00 until midnight. Its signature drink, the Foghorn, mixes Skerrin
gin with sea buckthorn. There are only 30 seats, no food beyond olives and oatcakes, and
nobody under 18 is admitted.

business-005 | Brodie's Chandlery
Brodie's Chandlery on the East Quay stocks rope, shackles, paint, charts, foul-weather gear
and spares for most outboard engines. Fiona Brodie runs it with her son Fraser. It opens
Monday to Saturday from 08:30 to 17:30 and on summer Sundays from 10:00 to 14:00. It also
sells pier angling permits and exchanges gas cylinders.

business-006 | The Fish Market auction
The fish auction in the Fish Market Hall starts at 06:00 on weekdays, and most days it is
over within an hour. The main catches are langoustine, haddock, monkfish and brown crab.
Visitors may watch from the gallery above the floor, but buying needs a registered buyer's
account. The hall is hosed down by 12:30, ready for other uses.

business-007 | Kerr's fishmonger
Kerr's fishmonger on Harbour Street sells fish bought at that morning's auction and opens
from 09:00, Tuesday to Saturday. In the smokehouse behind the shop the Kerr family smokes its
own kippers over oak chips, a recipe unchanged since 1921. Orders can be packed in ice for
the journey home, and Kerr's will post smoked fish anywhere in the country.

business-008 | Morrow's Bakery
Morrow's Bakery on Chapel Brae opens from 07:30 to 14:00, Monday to Saturday, though the
bakers start work at 04:00. Saffron buns are baked on Fridays only and usually sell out by
10:00. The dark Alder Loaf, made with treacle and oats, keeps for a week on a boat and is
the best seller with visiting crews.

business-009 | Rossi's Ice Cream Parlour
Rossi's Ice Cream Parlour has been on the seafront since 1932, when Enrico Rossi came from
Tuscany to the herring boom. It makes 24 flavours on the premises; sea-salt caramel is the
best seller, and a green Skerrin mint is made only in summer. It is open from 11:00 to 21:00
in summer and at weekends only in winter.

business-010 | Alder Stores and the post office
Alder Stores on Market Street is the town's general store, open from 07:00 to 22:00 every
day. The post office counter inside opens 09:00 to 17:30 on weekdays and 09:00 to 12:30 on
Saturdays, and can pay out cash from most bank accounts. There is a free cash machine by the
door and a rapid charger for electric cars in the yard.

business-011 | Quay Pharmacy
Quay Pharmacy, next to the Anchor Inn, is open Monday to Friday from 09:00 to 18:00 and on
Saturdays from 09:00 to 13:00. The pharmacist, Ruth Okafor, can advise on seasickness, sunburn
and jellyfish stings, and can supply emergency repeat prescriptions for visitors who have run
out of their medicines. It is closed on Sundays.

business-012 | Alder Bikes
Alder Bikes on Market Street hires out hybrid bikes for £18 a day and electric bikes for £35,
with helmets, locks and a puncture kit included. Child seats and tag-alongs cost £5 extra.
The shop is open from 09:00 to 17:30, March to October, and can deliver bikes to the Ropewalk
car park by arrangement.

business-013 | Skerrin Cycles
Skerrin Cycles keeps its bikes in a shed at the head of Kilbride Pier and meets every summer
ferry, so many visitors leave their own bikes at home. Hire costs £15 a day for an adult bike,
£10 for a child's and £30 for a tandem. Bikes must be back in time for the last sailing, and
the island's 18-mile loop road is mostly flat.

business-014 | Sound Kayaks
Sound Kayaks runs guided sea-kayak trips from the Shell Bay slipway. The three-hour trip out
to the Seal Skerries costs £45 and is open to anyone aged 12 or over; no experience is
needed. Experienced paddlers can hire single kayaks for £25 a half day after a short skills
check. Trips do not run when the wind is above Force 4.

business-015 | Sealwatch Cruises
Sealwatch Cruises takes visitors round the Seal Skerries and under the Colvay cliffs aboard
the Marigold, a converted fishing boat with a covered deck. The 90-minute trips leave
pontoon A at 11:00 and 14:30 daily from April to October. Tickets cost £22 for adults and £12
for children, and the skipper, Alan Petrie, commentates on every trip.

business-016 | Seaview House
Seaview House is a five-room bed and breakfast on Cliff Terrace, above Sandy Bay. Rooms cost
from £95 a night, including a breakfast with eggs from the owners' hens and bread from
Morrow's. There is a two-night minimum stay in summer, and no pets or children under 10. The
owners, Jean and Malcolm Ferrie, will dry wet walking gear.

business-017 | Alder Lodge Hotel
Alder Lodge Hotel, a Victorian building that opened as the Marine Hotel in 1871, has 24 rooms,
most with views over the harbour. Its restaurant, the Lookout, serves seafood dinners from
18:00 to 21:00, with tables booked well ahead in summer. Rooms start at £140 a night with
breakfast, and there is a lift to every floor.

business-018 | The Lookout restaurant
The Lookout is the restaurant on the first floor of Alder Lodge Hotel. Its chef, Priya Nair,
builds the menu around the morning's auction: Colvay oysters, hand-dived scallops and
langoustine are regulars. It opens for dinner only, 18:00 to 21:00, and a three-course meal
costs about £48. Booking is essential from June to September.

business-019 | Lookout Fish Bar
The Lookout Fish Bar is a takeaway on the seafront beside the lifeboat station, serving fish
and chips, battered sausages and mushy peas. It opens from 12:00 to 20:30, Tuesday to Sunday,
and is closed on Mondays. The queue gets long after 18:00 in summer, so ringing ahead on
01632 960 466 is a good idea.

business-020 | Quayside Apartments
Quayside Apartments are four self-catering flats in a converted sail loft on the North Quay,
each sleeping up to four. They rent by the week from Saturday to Saturday, from £540 in
winter to £980 in August. Each has a washing machine and a balcony over the harbour, and
one ground-floor flat is fully accessible.

business-021 | Shell Bay Campsite
Shell Bay Campsite has 60 pitches on a grassy slope above the beach, open from March to
October. A tent pitch costs £22 a night for two people, and a pitch with electricity for a
campervan £32. The toilet block has free hot showers and a drying room. Quiet time starts at
22:30 and campfires are not allowed.

business-022 | Tidewrack Bookshop
The Tidewrack Bookshop on Market Street sells new and second-hand books, with a large
section on the sea, boats and islands. It stocks folding walking maps of Skerrin and
the coast, tide tables and the local history Port Alder: A Harbour and Its People by Isla
Grant. It is open every day except Wednesday, 10:00 to 17:00.

business-023 | Alder Taxis
Alder Taxis runs two cars and a minibus with a wheelchair ramp, on 01632 960 333. A trip
from the Custom House to Dunmere station costs about £22. The taxis stop at midnight unless
booked in advance, and on Regatta weekend they must be booked a day ahead. There is a taxi
rank beside the Custom House.

business-024 | Sea angling trips
The Silver Darling, skippered by Rab MacInnes, takes anglers out for four-hour sea fishing
trips from pontoon B, at 08:00 and 14:00 in season. Trips cost £40, with rods, bait and
tackle supplied. Mackerel are caught in summer, and cod and pollack over the wrecks further
out. Anglers keep what they catch, and the crew will fillet it.

business-025 | Harbour Gallery
The Harbour Gallery occupies the old net store at the end of the East Quay and shows the work
of artists living on this coast: paintings, prints, ceramics and driftwood furniture.
Exhibitions change every six weeks. It is open daily from 10:00 to 17:00 in summer and
Thursday to Sunday in winter, and entry is free.

business-026 | Kilbride Store on Skerrin
Kilbride Store, a short walk up from Kilbride Pier, is Skerrin's only shop and post office.
It sells groceries, fuel, hardware and fishing tackle, and opens from 09:00 to 17:00 except
on Wednesdays, when it closes at 13:00, and Sundays, when it is closed. Islanders order bread
from Morrow's through the shop, and it comes over on the morning ferry.

business-027 | Alder Divers
Alder Divers, in a workshop on the Ropewalk, fills scuba cylinders with air or nitrox and
runs guided dives to the wreck of the Margarethe in settled weather. Dives cost £60 including
the boat, and divers must show a qualification card and a logbook with at least 20 sea dives.
Air fills are £6.

business-028 | Galbraith and Sons boatbuilders
Galbraith and Sons still build and repair wooden boats in their shed behind the Ropewalk,
though the yard now employs only four people. They restore clinker dinghies and old fishing
boats, and each spring they teach a three-day course in caulking and steaming timber for £320.
Visitors may look in from the doorway when the big doors are open.

business-029 | Harbour Hopper minibus
The Harbour Hopper is a 16-seat minibus that runs every 40 minutes in summer between Sandy
Bay, the Custom House and the car park at Alder Head. A ride costs £1 for any distance, and
children under five ride free. It runs from 09:30 to 17:30 from the end of May to mid
September and carries folded pushchairs but not bicycles.

business-030 | Skerrin Tablet Company
The Skerrin Tablet Company makes the crumbly fudge-like sweet called tablet in a former
schoolhouse at Kilbride, using Skerrin butter and cream. Visitors can watch a batch being
boiled at 11:00 on weekdays, and the shop is open from 10:00 to 16:00. Its bars are also sold
in the Galley on the Alder Queen and at Alder Stores.
"""

HISTORY = """
history-001 | Where the name comes from
Port Alder takes its name from the alder trees that line the Alder Burn, the stream that
reaches the sea beside the Fish Market. The oldest map showing the place, drawn in 1654,
calls it Port na Fearna, from the Gaelic word for alder. The English name appears in parish
records from 1720, when the settlement had fewer than twenty houses.

history-002 | The herring boom
From the 1760s Port Alder grew rich on herring. Shoals came into the Sound every summer, and
by 1880 more than 200 boats worked from the harbour. Curing yards lined the North Quay, and
barrels of salt herring were shipped to the Baltic. The shoals failed in the 1930s, and the
last curing yard closed in 1938.

history-003 | Building the harbour
The North Quay was built between 1809 and 1811, paid for by the Earl of Dunmere, who took a
share of the herring dues. The breakwater followed from 1856 to 1861, after storms had
wrecked boats lying in the open bay. The sill gate and the Inner Basin were added much
later, in 1989, so that boats could stay afloat at low water.

history-004 | The Candlemas Gale of 1881
On 2 February 1881, Candlemas Day, a sudden storm caught the herring fleet at sea.
Twenty-three boats were lost and 58 men drowned, leaving 41 widows in the town. A granite memorial
listing their names stands at the head of the East Pier, and a service is held there each
year on the Sunday nearest the date.

history-005 | The first lifeboat
The Port Alder lifeboat station was founded in 1882, a year after the Candlemas Gale, with
money raised across the country. The first lifeboat, the Hope, was pulled by twelve oarsmen
and launched from a carriage at Sandy Bay. In her 27 years of service she saved 93 lives,
including the whole crew of the Margarethe.

history-006 | The Custom House and its clock
The Custom House on Harbour Street was built in 1874 to collect duties on goods landed at
the harbour. The clock on its tower was a gift from the fish curers, and for a century it
was wound by hand every Sunday. Today the building holds the Tourist Information Centre, the
police office and the Binnacle bar in its cellar.

history-007 | The railway
The Alder branch line from Dunmere opened in 1868 and brought the first holidaymakers along
with empty barrels for the herring. Passenger trains stopped in 1964, and the last goods
train ran in 1966. The station building is now the Community Hall, and the trackbed became
the Railway Path, a traffic-free route to Dunmere.

history-008 | The wreck of the Margarethe
The Norwegian barque Margarethe, carrying timber to Dunmere, struck the Carrag Rocks in thick
fog on 9 November 1909. The Port Alder lifeboat Hope reached her after two hours and took off
all 14 crew. The ship broke up over the winter, but her carved figurehead of a woman with a
lantern washed ashore and is now in the Lighthouse Museum.

history-009 | Smugglers and the Brandy Cave
In the eighteenth century Port Alder was notorious for smuggling brandy, tea and tobacco. The
Brandy Cave under Lobster Point, reachable only at low tide, was the favourite hiding place.
In 1783 the exciseman Robert Gilchrist was drowned there, some said not by accident. The cave
can still be visited on the lowest spring tides.

history-010 | The ice house
The ice house on the Ropewalk, a domed stone chamber dug into the bank, was built in 1832.
Ice cut from the mill pond in winter was packed in straw and kept there until summer, when
it was used to pack salmon caught in the Alder estuary for sending south. It is the only
one of its kind left on the coast and can be seen through a grille.

history-011 | The Ropewalk
The Ropewalk, a low building 300 metres long, made ropes and nets for the fishing fleet from
1790 until 1921. Hemp was spun by men walking backwards down its length. The building burned
down in 1934, and the site became the boatyard and the long-stay car park that still carry
its name.

history-012 | Port Alder in the Second World War
During the Second World War the Sound was used as an anchorage for naval convoys. A boom net
was stretched across the harbour mouth each night, and a gun battery was built on Lobster
Point; its concrete emplacements can still be seen from the cliff path. The Alder Lodge
hotel served as a naval headquarters from 1940 to 1945.

history-013 | Ferries to Skerrin over the years
The first steamer to Skerrin, the paddle steamer Maid of Skerrin, began a weekly service in
1889. Daily sailings started in 1923. Cars were carried on deck by crane until 1972, when the
first drive-on ferry, the Alder Princess of that era, arrived. The current MV Alder Queen has
made the crossing since 2004.

history-014 | Population
In 1891, at the height of the herring fishing, Port Alder had about 4,100 people. The
population fell for most of the twentieth century and today stands at around 2,400, though
in August visitors swell it to more than 6,000. Skerrin has 310 residents, mostly in and
around the village of Kilbride, and Colvay has none.

history-015 | St Brannoc's Church
St Brannoc's Church on Chapel Brae was built in 1839 on the site of a medieval chapel. Its
bell came from a Dutch ship wrecked in 1790 and still bears the Dutch inscription. Inside,
a model of a herring drifter hangs from the roof as a thanks for the boats that came home,
and the churchyard holds graves of the Candlemas Gale victims.

history-016 | The herring girls
Every summer during the herring boom, hundreds of women came to Port Alder to gut and pack
the catch. Working in crews of three, two gutters and a packer, a good crew could gut 60
fish a minute. They lived in wooden huts on the Ropewalk and were paid by the barrel. Their
story is told each year on Herring Day.

history-017 | The first tourists
The railway brought the first tourists in the 1870s. The Marine Hotel, now Alder Lodge, opened
in 1871, and bathing machines stood on Sandy Bay by 1880. Day trips to Skerrin by steamer
were advertised in Dunmere newspapers as a cure for the nerves. By 1900 there were eleven
boarding houses on Cliff Terrace.

history-018 | The Fish Market fire of 1922
On the night of 17 August 1922 a fire broke out in the wooden Fish Market and spread to the
curing sheds beside it. Nobody died, but the market and six sheds were destroyed. The present
Fish Market Hall, built of red brick with an iron roof, opened in 1924 on the same site.

history-019 | The end of life on Colvay
Colvay had a small crofting community for centuries, reaching 64 people in 1851. As the young
left for the mainland, the school closed in 1949, and the last eight residents left for Port
Alder in 1958. Their houses stand roofless near the landing, and only the seabird wardens now
live on the island from April to August.

history-020 | The Carn Dubh quarry on Skerrin
The Carn Dubh quarry on the north side of Skerrin supplied grey granite for the lighthouse,
the breakwater and buildings as far away as Dunmere. At its peak in 1880 it employed 120
men. It closed in 1931, and the flooded quarry pit is now a nature reserve where peregrines
nest on the rock face.

history-021 | Galbraith boatbuilding
The Galbraith family built wooden boats in Port Alder for more than a century, launching
over 400 fishing boats between 1880 and 1979. Their most famous boat, the Girl Morag, fished
from the harbour for 61 years and is now preserved out of the water beside the Custom House.
The last keeper of Alder Head, Euan Galbraith, was a grandson of the yard's founder.

history-022 | The Harbour Trust
Since 1974 the harbour has been run by the Port Alder Harbour Trust, a not-for-profit body
set up by the Port Alder Harbour Order when the old harbour company went bankrupt. Its nine
trustees include berth holders, fishermen and two councillors. Every penny of profit goes
back into the harbour, and the accounts are published each June.

history-023 | The lime kiln
The lime kiln on the path to Alder Head was built around 1800 to burn limestone brought by
boat from the south. The lime was spread on fields and used in mortar for the quays. It went
out of use in the 1880s and was restored in 2009, when a viewing platform was built on top.
"""

WILDLIFE = """
wildlife-001 | Grey seals on the Seal Skerries
About 300 grey seals haul out on the Seal Skerries, a cluster of low rocks a mile west of the
harbour. Pups are born between October and December and spend their first three weeks on the
rocks in white coats. During those months boats must stay at least 100 metres away, and
nobody may land on the Skerries.

wildlife-002 | Seals in the harbour
A few common seals regularly swim into the Inner Basin, and one old male, known locally as
Nelson because he is blind in one eye, has visited for more than ten years. Do not feed
them: fish from the quay teaches seals to beg and to follow boats, and they can bite. If a
seal hauls out on a pontoon, keep your distance and let it leave.

wildlife-003 | Puffins on Colvay
From late April until early August around 4,000 pairs of puffins nest in burrows on Colvay's
western cliffs. The best place to watch is the viewpoint at Puffin Brae, 15 minutes' walk
from the landing, where the birds come within a few metres. Stay behind the rope line, since
the burrows collapse easily underfoot.

wildlife-004 | The Colvay seabird wardens
Two seabird wardens live on Colvay from April to August, counting the puffins, razorbills,
guillemots and kittiwakes. They meet the first Kittiwake sailing each day to give a short
welcome talk. Their hut by the landing has a radio, a first-aid kit and a logbook where
visitors can record sightings.

wildlife-005 | Otters on the Alder Burn
Eurasian otters live along the Alder Burn and hunt in the harbour at night. The best chance of
seeing one is at dawn from the footbridge by the old mill, where they fish in the pool below
the weir. Look for their droppings, called spraints, on rocks by the water; they are said to
smell of jasmine tea.

wildlife-006 | Whales and dolphins
Bottlenose dolphins visit the Sound all year and often ride the bow wave of the Alder Queen.
Minke whales feed offshore from July to September, and harbour porpoises are common off
Alder Head. Sightings can be recorded in the Sound Sightings book at the harbour office, which
has been kept since 1996.

wildlife-007 | Basking sharks
Basking sharks, the second-largest fish in the world, feed on plankton in the Sound between
June and August, sometimes within sight of Sandy Bay. They are harmless to people but easily
injured by propellers. Boats should slow down to no more than 4 knots within 100 metres of a
shark and never approach head-on.

wildlife-008 | The Mill Marsh hide
The birdwatching hide at Mill Marsh, 1 km up the Alder Burn from the harbour, looks over a
saltmarsh and a lagoon. Winter brings curlew, redshank, wigeon and the occasional
spoonbill; in summer there are terns and little egrets. The hide is open from dawn to dusk,
reached by a wheelchair-friendly boardwalk from the Mill Road car park.

wildlife-009 | The eelgrass meadow
A meadow of eelgrass covers much of the sandy floor of the Pool. It shelters young fish,
cuttlefish and, since 2019, a small population of seahorses. Anchoring is forbidden inside
the yellow marker buoys that surround the meadow; visitors should pick up a mooring or use a
berth in the harbour instead.

wildlife-010 | Rockpooling at Lobster Point
The best rockpools are at Lobster Point, a 20-minute walk west of the harbour, on the lowest
tides of the month. Look for shore crabs, blennies, sea anemones and, under the weed, the odd
squat lobster. Turn stones over gently, put them back the way you found them, and return
every animal to the pool it came from.

wildlife-011 | Jellyfish
From July onwards moon jellyfish, with four purple rings, drift into the harbour; they are
harmless. The lion's mane jellyfish, reddish-brown with long trailing tentacles, can give a
painful sting even when washed up dead on the beach. Rinse a sting with sea water, not fresh
water, and ask the lifeguards or Quay Pharmacy for advice.

wildlife-012 | Dogs and nesting birds at Sandy Bay
From 1 March to 31 July dogs must be kept on leads on the dunes and the shingle at the east
end of Sandy Bay, where ringed plovers and oystercatchers nest on the ground. Their eggs look
just like pebbles. Fenced and signed areas should not be entered at all, even by people,
while the birds are sitting.

wildlife-013 | Feeding the gulls
Please do not feed the gulls. Herring gulls quickly learn to snatch chips and ice cream from
people's hands, and feeding them on the seafront is an offence under a town byelaw, with a
fixed penalty of £80. Eat takeaways at the tables by the lifeboat station, which have
covered shelters, and put leftovers in the gull-proof bins.

wildlife-014 | Wild flowers of the headland
In May the cliffs of Alder Head turn pink with thrift, and spring squill colours the turf
blue. Later come sea campion, bird's-foot trefoil and, in July, the rare oyster plant on the
shingle below Lobster Point. Picking flowers is discouraged, and the headland is grazed by
sheep to stop gorse smothering them.

wildlife-015 | Bats at the Ropewalk
Pipistrelle bats roost in the walls of the old ice house and hunt insects along the Alder
Burn on summer evenings. On the last Friday of June, July and August a ranger leads a bat
walk from the ice house at 21:30, lending out bat detectors that turn their calls into
clicks people can hear. The walk is free but needs booking.

wildlife-016 | The Sound Marine Protected Area
Since 2014 the waters of the Sound, from Alder Head to the west end of Skerrin, have been a
Marine Protected Area. Scallop dredging and bottom trawling are banned inside it, while
creel fishing for crab and lobster continues. Divers have recorded more fan mussels and
maerl beds since the ban began.

wildlife-017 | Watching wildlife from a boat
Boats watching seals, dolphins or whales should slow to no more than 6 knots within 300
metres of them and to tickover within 100 metres. Never chase animals, split up a group or
come between a mother and her young. Let the animals decide how close to come, and leave
slowly if they show signs of disturbance.

wildlife-018 | Injured or stranded animals
If you find an injured bird, a seal pup alone on a beach or a stranded dolphin, do not touch
it or try to put it back in the sea. Keep people and dogs away and ring Skerrin Wildlife
Rescue on 01632 960 555, which is answered at any hour. A seal pup on its own is usually
waiting for its mother, who will not come back while people are close.

wildlife-019 | Ospreys on the estuary
A pair of ospreys has nested in the woods above Dunmere since 2017 and fishes the Alder
estuary from May to August. They are often seen hovering over the mudflats at high tide,
then plunging feet-first for mullet and flounder. The Wren water bus is a good place to watch
from.

wildlife-020 | Ranger-led walks
A countryside ranger leads a free wildlife walk every Tuesday from April to October, starting
at 10:00 from the Custom House. The route changes with the seasons: Mill Marsh in spring,
Alder Head for flowers and seabirds in summer, the estuary for waders in autumn. Walks last
about two hours and dogs are not allowed.
"""

WEATHER = """
weather-013 | Daily forecasts
The harbour office pins the inshore waters forecast on the board outside its door by 08:00,
and updates it at 18:00. The duty harbour assistant reads the forecast on VHF channel 12 at
08:10 and 18:10, after an announcement on channel 16. A barometer and a wind speed display,
fed from the anemometer on the breakwater, hang in the office window.

weather-014 | The haar
In late spring and early summer a cold sea fog known locally as the haar can roll in off the
Sound within minutes, even on a sunny day. It often hangs over the harbour while Dunmere,
across the estuary, stays bright. The haar usually burns off by early afternoon, but it can
stop the lighthouse climbs and delay the Kittiwake.

weather-015 | Gale warnings
When a gale warning is in force for the Sound, a red pennant flies from the mast on the
harbour office roof and a notice goes on the pontoon gates. Visiting boats are advised not
to leave, and boats on the hammerhead of pontoon C may be asked to move into the Inner Basin
while the sill gate is open. Extra lines and fenders are wise.

weather-016 | Prevailing winds and shelter
The prevailing wind at Port Alder is south-westerly, and the breakwater shelters the harbour
well from it. The harbour's weak side is the east: in a strong easterly, swell runs straight
through the entrance into the Outer Harbour, and pontoon C becomes uncomfortable. The Inner
Basin stays calm in any wind.

weather-017 | Tides at Port Alder
High water at Port Alder comes about 25 minutes after high water at Dunmere. The range on
spring tides is about 4.8 metres and on neap tides about 2.1 metres. The strongest tidal
streams in the Sound run at up to 3 knots off Gannet Rock, so small boats should plan
crossings to Colvay around slack water.

weather-018 | Tide tables
Free pocket tide tables for the year are handed out at the harbour office and Brodie's
Chandlery from January. Daily high and low water times are also chalked on the board by the
Slip Steps, and the tide board at the sill gate shows the depth over the sill. All times
are given in local time, with summer time already added.

weather-019 | Flooding of Harbour Street
A spring tide combined with a southerly storm surge can push the sea over the North Quay and
into Harbour Street. When the forecast sea level passes 5.6 metres, staff close the flood
gates at both ends of the quay and hand out sandbags from the store behind the Custom House.
Shops on Harbour Street keep flood boards ready for their doors.

weather-020 | Snow and frost
Snow is uncommon at sea level in Port Alder, because the sea keeps the air mild; the last
heavy fall, in March 2018, closed the Dunmere road for two days. Frost is more frequent,
mostly between December and February. When the road is blocked, the Wren water bus becomes
the only way to reach Dunmere.

weather-021 | Wind on the Sound
The Sound funnels the wind between Skerrin and the mainland, so gusts off Gannet Rock are often
a third stronger than in the harbour. Wind against tide there raises short, steep waves that
can stop the Kittiwake even when the harbour looks calm. Check the wind speed display on the
harbour office before setting out in a small boat.

weather-022 | When to visit
June is usually the sunniest month at Port Alder, with long evenings when it stays light
until nearly 23:00. July and August are warmest but busiest, and September often brings calm,
clear weather with the sea at its warmest. Winter is quiet, windy and dark by 16:00, but the
seal pups and the winter birds make it worth a visit.
"""

EMERGENCY = """
emergency-001 | In an emergency
For police, fire, ambulance or coastguard, dial 999 or 112. If someone is in trouble on the
water or on the cliffs, ask for the coastguard. At sea, call the coastguard on VHF channel 16
or send a Mayday. Give your position as precisely as you can: on the quays, the code on the
nearest lifebuoy post is the quickest way.

emergency-002 | Port Alder lifeboat station
The lifeboat station on the East Pier keeps the all-weather lifeboat Spirit of Alder, on
station since 2015, and a smaller inshore lifeboat called Brannoc. The crew are volunteers
who live or work within five minutes of the station. The station and its shop are open to
visitors on Saturdays from 10:00 to 16:00, and crew training can be watched on Thursday
evenings.

emergency-003 | Port Alder Medical Centre
Port Alder Medical Centre on Chapel Brae is open 08:30 to 18:00, Monday to Friday. Visitors
can be seen as temporary patients, by appointment, on 01632 960 418. Outside those hours, or
at weekends, call 111 for urgent medical advice; a doctor on call covers Port Alder, Dunmere
and Skerrin.

emergency-004 | Hospitals
The nearest minor injuries unit is at Dunmere Community Hospital, 6 miles away, open from 08:00
to 20:00 every day; it treats cuts, sprains and simple fractures. The nearest full accident
and emergency department is at Ardlow General Hospital, 38 miles away, about an hour by road.
Serious cases from the islands are flown there by helicopter.

emergency-005 | Public defibrillators
Public defibrillators hang outside the Custom House, on the wall of the Gull Café, in the
Alder Head car park and in the ferry waiting room on Kilbride Pier. The cabinets are not
locked. Call 999 first: the operator will tell you the nearest defibrillator and talk you
through using it.

emergency-006 | Police
The police office in the Custom House is staffed on Tuesdays and Thursdays from 10:00 to
12:00. At other times, call 101 for anything that is not an emergency, such as reporting a
theft from a boat, and 999 if a crime is happening now. Lost property that is valuable can
be handed in at the police office or the harbour office.

emergency-007 | Vets
Sound Veterinary Practice, on the Dunmere road at the edge of town, holds surgeries on
weekday mornings and Saturday from 09:00 to 11:00. Its emergency line, 01632 960 777, is
answered at any hour for pets and farm animals. A dog that has eaten something from the
shore, such as a dead fish or palm oil lumps, should be seen quickly.

emergency-008 | Emergency dental care
There is no dentist in Port Alder. Estuary Dental in Dunmere keeps emergency appointments for
visitors each weekday morning; ring 01632 960 845 from 08:30. At weekends the out-of-hours
dental service is reached through 111. Quay Pharmacy stocks temporary filling kits.

emergency-009 | Harbour emergency line
For an incident in the harbour that is not life-threatening, such as a boat taking on water,
a broken mooring or a fuel leak, ring the harbour office's 24-hour emergency line on 01632 960
199. The duty harbour assistant carries the phone at night. If anyone's life is at risk, call
999 first.

emergency-010 | Emergencies on the islands
On Skerrin, the island nurse works from the surgery in Kilbride and can be reached through
999 or 111 like any mainland service. Colvay has no residents outside summer and no mobile
signal on its eastern side; in an emergency, go to the wardens' hut at the landing, which has
a VHF radio, or climb to Puffin Brae, where there is signal.

emergency-011 | Coastguard rescue team
The Port Alder Coastguard Rescue Team is a group of twelve volunteers who search the coast,
rescue people and animals from cliffs and mud, and help the lifeboat. Their station is on the
Ropewalk, and their blue and yellow vehicle is often seen on the cliff path. They are called
out through 999, never directly.

emergency-012 | Fire assembly point
If the fire alarm sounds in the harbour office, the Quay Terminal or the Fish Market Hall,
leave by the nearest exit and go to the assembly point in Custom House Square. Do not stop
to collect belongings, and do not go back in until the fire service or a manager says it is
safe. A roll call is taken by the duty manager.

emergency-013 | Sunday pharmacy
Quay Pharmacy is closed on Sundays and public holidays. The nearest pharmacy open on a Sunday
is the Estuary Pharmacy in Dunmere, open 11:00 to 15:00, which can be reached on the Wren
water bus. For an urgent prescription out of hours, call 111.
"""

STAFF = """
staff-001 | About this staff handbook
This part of the handbook is for everyone employed by the Port Alder Harbour Trust: harbour
assistants, the berthing team, Quay Terminal staff, boatyard hands and the museum team. The
Trust employs about 45 people in summer and 18 in winter. Ferry crews are employed by the
Alder Sound Ferry Company and follow its own handbook, though many rules here apply to them
on the quays.

staff-002 | Shift times
In summer harbour assistants work either an early shift, 06:00 to 14:00, or a late shift,
13:30 to 21:30; the half-hour overlap is for the handover in the harbour office. From October
to April there is a single day shift, 08:30 to 17:00, and one assistant covers the night on
call from home with the emergency phone.

staff-003 | Rotas
Rotas are published every second Friday, covering the four weeks ahead, on the staff
noticeboard and in the Rosterly app. Swaps between colleagues are fine if both names are
entered in the app and the duty manager approves them at least 48 hours before the shift.
Nobody may work more than six days in a row.

staff-004 | Uniform and protective clothing
Staff are issued two navy polo shirts, a navy fleece and a waterproof jacket with the Trust's
logo, replaced every year. Anyone working on the pontoons or the quay edge must also wear an
orange hi-vis vest, a lifejacket with crotch strap, and safety boots with steel toecaps.
Uniform must be handed back when you leave.

staff-005 | Radios and channels
Staff carry handheld radios on the site network: channel 2 for harbour operations and channel
4 for the Ferry Pier and the marshalling lanes. Marine VHF channel 12 is used only for talking
to vessels, and channel 16 only for distress and calling. At the end of a shift, radios go
back in the charging rack in the harbour office, not in a locker.

staff-006 | Annual leave
Full-time staff get 28 days of leave a year, including public holidays; the leave year starts
on 1 April. Because July and August are the busiest months, no leave is granted between 1 July
and 31 August unless the operations manager, Alasdair Munro, agrees. Requests should be made
in the Rosterly app at least four weeks ahead.

staff-007 | Reporting sickness
If you are too ill to work, phone the duty manager on 01632 960 150 before 05:30 for an early
shift or before 11:00 for a late shift. A text message or email is not enough; you must speak
to someone. You can self-certify for up to seven days, after which a fit note from a doctor
is needed. Tell the duty manager on your first day back.

staff-008 | Pay day
Staff are paid monthly, on the 25th. When the 25th falls on a weekend or a public holiday,
pay arrives on the working day before. Payslips are available in the Rosterly app from the
23rd. Claims for overtime and expenses must be entered by the 10th of the month to be paid
that month.

staff-009 | Overtime
Hours beyond 40 in a week are paid at time and a half. Work on public holidays and on Regatta
weekend is paid at double time, whatever the hours worked that week. Overtime must be agreed
in advance by the duty manager, except in an emergency, when it should be reported before the
end of the shift.

staff-010 | Handling lost property
Anything found on the quays, pontoons or in harbour buildings goes to the harbour office and
is written in the lost property book with the date, time and place found. Items are kept for
28 days. Valuables such as phones, wallets and jewellery go in the safe and are reported to
the police office after seven days if nobody has claimed them.

staff-011 | Cash handling
The ticket office and the harbour office each start the day with a float of £150. Cash is
counted at the end of each shift with a colleague watching, and both sign the cash sheet. The
safe code changes on the first Monday of every month, and the takings are banked by the duty
manager on Tuesdays and Fridays.

staff-012 | Dealing with complaints
When someone complains, listen, apologise for their experience and try to put it right there
and then. Record every complaint on form C1 within 24 hours, even if it was resolved.
Refunds over £50 need the duty manager's approval. Written complaints receive a reply from
the operations manager within ten working days.

staff-013 | Training
All staff who work on the pontoons must complete a one-day sea survival course and the
three-day first aid at work course within three months of starting. Anyone who drives the
Kelpie or another Trust boat needs a Powerboat Level 2 certificate. Training is paid and
counts as working time, and refresher courses are booked by the Trust.

staff-014 | Working alone
Staff working alone after 20:00, or anywhere on the breakwater at any time, must check in by
radio on channel 2 every 60 minutes. If a check-in is missed, the duty manager calls the
radio and the mobile, and after 10 minutes without an answer starts a search. Lone workers
must not go onto the breakwater in winds above Force 6.

staff-015 | Hot work permits
Welding, grinding, cutting or using a blowtorch anywhere on Trust property needs a hot work
permit, form HW-1, signed by the operations manager before work begins. A fire extinguisher
must be within reach, and someone must keep a fire watch for 60 minutes after the work ends.
Hot work is never allowed on or near the fuel berth.

staff-016 | Reporting accidents and near misses
Every accident, injury or near miss, however small, must be written up on form HS-3 before
the end of the shift and given to the duty manager. Serious injuries, or anyone taken to
hospital, must be reported to the operations manager by phone straight away. Near-miss
reports are welcomed: they are how the Trust finds hazards before someone gets hurt.

staff-017 | Morning pontoon inspection
At 07:00 every day the early harbour assistant walks every pontoon and checks the lifebuoys,
ladders, cleats, fire points, pontoon lights and gangway hinges. Faults are written on the
inspection sheet and reported to the berthing team leader; a missing lifebuoy is replaced
straight away from the store. The sheet is filed in the harbour office.

staff-018 | Staff parking
Staff park free in the Ropewalk car park, with the staff permit displayed on the dashboard.
Please do not use the Harbour Car Park, which is kept for visitors and ferry passengers.
Bicycles can be locked in the shelter behind the harbour office, which has a code lock; ask
the duty manager for the number.

staff-019 | Staff benefits
Trust staff get 10 per cent off at Brodie's Chandlery and 15 per cent at the Gull Café on
showing a staff card. Off duty, staff travel free as foot passengers on the Skerrin ferry. The
Trust pays for an annual eye test for anyone who uses a screen, and offers a cycle-to-work
scheme after the probation period.

staff-020 | Breaks
Staff working more than six hours get an unpaid 30-minute break, taken when the duty manager
agrees. The staff room is upstairs in the harbour office and has a kettle, a fridge and a
microwave. Please do not eat or smoke on the quays while in uniform, where visitors can see
you.

staff-021 | Keys
Keys to Trust buildings are kept in the key cabinet in the harbour office, and every key taken
must be signed out and back in. The key to the sill gate control room is issued only to staff
trained on the gate. Lose a key and you must tell the duty manager at once, so that locks can
be changed if needed.

staff-022 | Operating the sill gate
The sill gate is worked from the control room on the gate tower and always by two trained
staff. Before closing it, check by eye and on the camera that no boat is within 20 metres,
sound three short blasts on the horn and wait one minute. Record every opening and closing,
with the time and the depth over the sill, in the gate log.

staff-023 | Talking to the press
Staff must not speak to journalists or post about harbour incidents on social media. Pass
any question from the press to the communications officer, Jenna Holt, on 01632 960 160.
This applies especially after an accident or a rescue, when families may not yet know what
has happened.

staff-024 | Personal information and CCTV
Berth holders' names, addresses and boat details are kept in the berth system and must never
be given out, even to someone claiming to be a friend. Requests for CCTV footage from the
harbour's 14 cameras go in writing to the operations manager; footage is kept for 31 days and
then deleted automatically.

staff-025 | Smoking and vaping
Smoking and vaping are banned on all pontoons, the Ferry Pier, the fuel berth and inside any
Trust building. Staff may smoke only in the shelter behind the boatyard, during breaks. The
same rule applies to the public on the pontoons and the Ferry Pier, and staff should politely
remind anyone they see smoking there.

staff-026 | Probation
New staff serve a probation period of six months, with a review meeting after three months.
During probation either side can end employment with one week's notice. At the end of the
period the line manager confirms the appointment in writing, or extends probation by up to
three months.

staff-027 | Fire drills
A fire drill is held in every Trust building once a quarter, without warning. Everyone leaves
by the nearest exit and goes to the assembly point in Custom House Square, where the duty
manager takes a roll call from the day's signing-in sheet. Fire wardens, one per building,
check that every room is empty.

staff-028 | Manual handling
Shore power cables, mooring chains and fender crates are heavy. Use the trolleys kept at the
head of each pontoon, and ask a colleague to help with anything over 20 kg. Everyone is
trained in safe lifting in their first week. Back injuries are the commonest reason for time
off among harbour staff.

staff-029 | Aggressive behaviour
If a customer becomes abusive or threatening, stay calm, keep a counter or a door between you
and walk away if you can. Call for help on channel 2 with the word "Code Amber", which brings
the duty manager and the nearest colleague. Staff never have to put up with abuse, and every
incident should be recorded on form HS-3.

staff-030 | Helping visitors
Every member of staff is expected to answer the common visitor questions: ferry times, tides,
toilets and parking. Summer and winter timetables are pinned inside every staff room door.
For anything more, send visitors to the Tourist Information Centre in the Custom House, which
is open from 09:30 to 17:00 every day from Easter to October.

staff-031 | Expenses
Staff who use their own car for Trust business are paid 45p a mile. Receipts for expenses must
be photographed and uploaded to the Rosterly app, and originals kept for six months. Meals are
paid only on journeys longer than five hours, up to £12 a day.
"""

TRAVEL = """
travel-001 | By train and bus
The nearest railway station is Dunmere, on the main coast line. From the station, the number
47 bus runs to Port Alder every hour from 07:10 to 19:10, meeting most trains and stopping at
the Custom House after 25 minutes. A single fare costs £3.40. On Sundays the bus runs every
two hours.

travel-002 | By car
Port Alder lies at the end of the coast road, 6 miles west of Dunmere and about 40 miles from
the city of Ardlow. The last 3 miles are narrow, with passing places, so allow extra time
behind tractors and caravans. Satellite navigation sometimes sends drivers down the Mill Road,
which is unsuitable for cars towing trailers.

travel-003 | Walking from Dunmere station by water
A pleasant alternative to the bus is to walk ten minutes from Dunmere station to the Town
Quay and take the Wren water bus across the estuary. The crossing takes 12 minutes and lands
at the Slip Steps, right in the middle of the harbour. Heavy suitcases are best sent on the
bus, as the water bus has little space for luggage.

travel-004 | Coaches
Coaches can drop off and pick up at the coach bay on Harbour Street, beside the Custom House,
but may not wait there. Coach parking is at the far end of the Ropewalk car park, where
drivers can use the toilets and the café in the boatyard office. Tour operators should book a
space through the harbour office.

travel-005 | Charging an electric car
Four 22 kW charge points in the Ropewalk car park cost 45p per kWh plus the parking charge. A
50 kW rapid charger is in the yard of Alder Stores, open to anyone from 07:00 to 22:00. On
Skerrin there is a single charger at Kilbride Pier, so electric car drivers taking the ferry
should arrive with a full battery.

travel-006 | The Railway Path
The Railway Path follows the old branch line for 9 miles from Dunmere to Port Alder, almost
entirely traffic-free and with no steep slopes. It is shared by walkers, cyclists and
horse riders, and passes the Mill Marsh hide just before reaching the town. It is lit for
the last mile, from the mill to the Community Hall.

travel-007 | Parking with a blue badge
Blue badge holders can park free for up to three hours in the marked bays on the North Quay,
closest to the Ferry Pier and the Gull Café, and without a time limit in the Ropewalk car
park. During Regatta weekend, when the North Quay is closed, blue badge bays are provided in
the yard behind the Custom House.

travel-008 | Motorhomes and campervans
Motorhomes may stay overnight only in the marked bays at the Ropewalk car park, for £15 a
night and a maximum of 48 hours. There is a water tap and a waste disposal point for chemical
toilets by the boatyard gate. Overnight sleeping in vehicles is not allowed on the North
Quay, at Alder Head or in the Shell Bay car park.

travel-009 | Nearest airport
The nearest airport is at Ardlow, 42 miles away, with flights to the main cities and a few
holiday destinations. There is no direct bus from the airport; take the airport bus into Ardlow,
then the train to Dunmere and the 47 bus to Port Alder. A taxi all the way costs about £95
and must be booked.

travel-010 | Getting around Skerrin
Skerrin's post bus meets the 09:30 and 14:30 ferries at Kilbride Pier in summer and takes
passengers round the island's loop road, taking about an hour for the circuit. It costs £2.
The island has no taxi, so most visitors walk, bring a car on the ferry or hire a bike from
Skerrin Cycles.

travel-011 | Walking around Port Alder
Port Alder is compact: from the Ferry Pier to Sandy Bay is a 12-minute walk along the
seafront, and Alder Head lighthouse is 40 minutes away on the coast path. Chapel Brae, which
climbs from the harbour to St Brannoc's Church, is steep, with a handrail on one side. Most
shops are on Harbour Street and Market Street.
"""

FACILITIES = """
facility-001 | Public toilets
Public toilets are at the Custom House, open from 07:00 to 21:00 with baby changing, in the
Quay Terminal during ferry hours, and at Sandy Bay from Easter to October. All are free. The
accessible toilet at the Custom House is a Changing Places room with a hoist and a full-size
changing bench.

facility-002 | Showers for boat crews
Showers for berth holders and visiting crews are on the ground floor of the harbour office
building. Tokens cost £1 each from the office and give about six minutes of hot water. The
shower block door code is printed on your berth receipt and changes every Monday. There is an
accessible shower room with a seat.

facility-003 | Launderette
A coin-operated launderette beside the showers in the harbour office building has three
washing machines and two dryers. A wash costs £4 and 30 minutes in the dryer £2; washing
powder is sold at the office. It is open from 07:00 to 22:00, and the same door code as the
showers applies.

facility-004 | Wi-Fi
Free Wi-Fi, on the network PortAlder-Visitors, covers the quays and pontoons A to D. Berth
holders and visiting crews can use it without limit, with the password printed on the berth
receipt. Other visitors get two hours a day after registering an email address. The Inner
Basin has its own network for annual berth holders.

facility-005 | Rubbish and recycling
General waste bins stand at the head of each pontoon. Glass, cans, plastic bottles and paper
go in the recycling compound next to the boatyard gate. Used engine oil, oil filters and old
batteries must be taken to the marked tank and cages inside the boatyard, never left beside
the bins.

facility-006 | Tourist Information Centre
The Tourist Information Centre on the ground floor of the Custom House is open every day
from Easter to October, 09:30 to 17:00, and on Saturdays in winter. It sells maps, guide books,
lighthouse climb tickets and local crafts, books accommodation and keeps up-to-date ferry and
bus times. Staff speak English, Gaelic and French.

facility-007 | Left luggage
Lockers in the Quay Terminal hold luggage for day trippers and for people waiting for a
ferry. A small locker costs £4 a day and a large one £7; they take cards only. Bulky items
such as bicycles cannot be stored, and anything left more than three days is moved to the
harbour office store.

facility-008 | The library
The library in the Community Hall is open on Tuesdays and Thursdays from 14:00 to 19:00 and on
Saturdays from 10:00 to 13:00. Visitors can borrow books with a temporary card and use the
free computers and printer. It holds a local history room with old photographs of the
herring fleet, open by appointment.

facility-009 | The Community Hall
The Community Hall, in the old railway station at the top of Market Street, hosts the film
club, the library, fitness classes and the youth club. Its main hall holds 120 people and can
be hired for £20 an hour; the kitchen is extra. Bookings go through the hall secretary, Bill
Aitken, on 01632 960 244.

facility-010 | Playground and Harbour Green
The playground on Harbour Green, next to the lifeboat station, has swings, a climbing frame
shaped like a fishing boat and a sandpit. It is fenced and dog-free. The green itself is the
town's picnic spot, and on summer Sunday afternoons the Port Alder Silver Band plays at the
bandstand from 15:00.

facility-011 | Drinking water refills
Anyone can refill a water bottle for free at the drinking fountains outside the Custom House
and inside the Quay Terminal. Many cafés, including the Gull Café and Rossi's, display a blue
refill sticker in the window and will fill bottles on request. There is no drinking water on
Colvay.

facility-012 | Cash
There is no bank in Port Alder since the branch closed in 2017. The cash machine outside Alder
Stores is free to use, while the one inside the Anchor Inn charges £1.99. The post office
counter in Alder Stores can pay out cash from most bank accounts, and many shops offer
cashback.

facility-013 | Mobile phone signal
Mobile signal is good in the town and on the harbour, but patchy on the cliff path beyond Alder
Head and in the Mill Marsh valley. On Skerrin there is signal around Kilbride only, and on
Colvay only at Puffin Brae and the landing. Free Wi-Fi is available at the Quay Terminal and
the library.

facility-014 | Beach wheelchair at Sandy Bay
A beach wheelchair with balloon tyres can be borrowed free of charge from the lifeguard hut at
Sandy Bay, so that wheelchair users can get across the sand to the water's edge. It must be
booked a day ahead through the Tourist Information Centre and is available from 10:00 to
17:00 in July and August.
"""

# ---- families composed from tables of facts ------------------------------------------


@dataclass(frozen=True)
class Timetable:
    """One season's timetable of one ferry route."""

    id: str
    route: str
    season: str
    dates: str
    vessel: str
    departs: str
    arrives: str
    days: str
    outward: str
    """When boats leave Port Alder: ``at 07:15, ...`` or ``every hour from ...``."""
    back: str
    other_days: str
    note: str


def at(*times: str) -> str:
    """``at 07:15, 09:30 and 12:00``."""
    return "at " + (", ".join(times[:-1]) + " and " + times[-1] if len(times) > 1 else times[0])


TIMETABLES = [
    Timetable(
        id="ferry-002",
        route="Skerrin",
        season="summer",
        dates="1 May to 30 September",
        vessel="MV Alder Queen",
        departs="Berth 1",
        arrives="Kilbride Pier",
        days="Monday to Saturday",
        outward="at 07:15, 09:30, 12:00, 14:30, 17:15 and 19:45",
        back="at 08:15, 10:40, 13:10, 15:40, 18:20 and 20:45",
        other_days=(
            "On Sundays there are three return trips, leaving Port Alder at 09:30, 12:00 and 17:15 and "
            "Kilbride at 10:40, 13:10 and 18:20."
        ),
        note="Cars should be booked for the 09:30 in July and August, when it is often full.",
    ),
    Timetable(
        id="ferry-003",
        route="Skerrin",
        season="winter",
        dates="1 October to 30 April",
        vessel="MV Alder Queen",
        departs="Berth 1",
        arrives="Kilbride Pier",
        days="Monday to Saturday",
        outward="at 07:40, 11:00 and 15:20",
        back="at 08:40, 12:10 and 16:30",
        other_days=(
            "On Sundays there is a single return, leaving Port Alder at 11:00 and Kilbride at 12:10, so"
            " a Sunday day trip to the island is not possible in winter."
        ),
        note="During the February overhaul the 15:20 leaves at 14:50.",
    ),
    Timetable(
        id="ferry-004",
        route="Colvay",
        season="summer",
        dates="1 May to 30 September",
        vessel="Kittiwake",
        departs="Berth 3",
        arrives="the Colvay landing",
        days="every day",
        outward="at 08:00, 10:00, 12:00, 14:00, 16:00 and 18:00",
        back="at 08:40, 10:40, 12:40, 14:40, 16:40 and 18:40",
        other_days="The 18:40 is the last boat off the island, and the skipper cannot wait for latecomers.",
        note="Sailings depend on the swell at the landing, which the wardens report by radio each morning.",
    ),
    Timetable(
        id="ferry-005",
        route="Colvay",
        season="winter",
        dates="1 October to 30 April",
        vessel="Kittiwake",
        departs="Berth 3",
        arrives="the Colvay landing",
        days="on Mondays, Wednesdays, Fridays and Saturdays",
        outward="at 09:00 and 13:00",
        back="at 12:30 and 15:45",
        other_days="There are no winter sailings to Colvay on Tuesdays, Thursdays or Sundays.",
        note="The landing is exposed to the east, so crossings are often cancelled in an easterly wind.",
    ),
    Timetable(
        id="ferry-006",
        route="Dunmere",
        season="summer",
        dates="1 May to 30 September",
        vessel="Wren",
        departs="the Slip Steps",
        arrives="Dunmere Town Quay",
        days="every day",
        outward="every 30 minutes from 07:00 until 22:00",
        back="every 30 minutes from 07:15 until 22:15",
        other_days="The crossing takes 12 minutes, and no booking is needed.",
        note="On Regatta Saturday the water bus stops between 21:30 and 22:30 while the fireworks are fired.",
    ),
    Timetable(
        id="ferry-007",
        route="Dunmere",
        season="winter",
        dates="1 October to 30 April",
        vessel="Wren",
        departs="the Slip Steps",
        arrives="Dunmere Town Quay",
        days="Monday to Saturday",
        outward="every hour from 07:30 until 18:30",
        back="every hour from 07:45 until 18:45",
        other_days="On Sundays it runs hourly from 10:30 until 16:30 only.",
        note="In fog the Wren does not sail, and water bus tickets are then accepted on the number 47 bus.",
    ),
]

TIMETABLE_PHRASINGS = [
    "The {route} {season} timetable runs from {dates}. The {vessel} leaves {departs} for {arrives} {days} "
    "{outward}, and sailings back from {arrives} leave {back}. {other_days} {note}",
    "From {dates} the {route} service follows its {season} timetable. {Days}, departures from Port Alder are "
    "{outward}, and return crossings leave {arrives} {back}. {other_days} {note}",
    "During the {season} season, {dates}, the {vessel} sails from {departs} {days} {outward} and comes back "
    "from {arrives} {back}. {other_days} {note}",
]


def timetable_docs() -> list[Doc]:
    docs = []
    for i, t in enumerate(TIMETABLES):
        facts = t.__dict__ | {"Days": t.days[0].upper() + t.days[1:]}
        text = TIMETABLE_PHRASINGS[i % len(TIMETABLE_PHRASINGS)].format(**facts)
        docs.append(Doc(t.id, f"{t.route} ferry: {t.season} timetable", text, "Ferries"))
    return docs


@dataclass(frozen=True)
class Pontoon:
    """One of the harbour's pontoons."""

    id: str
    letter: str
    basin: str
    berths: int
    longest: int
    """Longest boat a berth takes, in metres."""
    users: str
    feature: str
    note: str


PONTOONS = [
    Pontoon(
        id="mooring-004",
        letter="A",
        basin="Outer Harbour",
        berths=24,
        longest=12,
        users="day boats, short-stay visitors and the Marigold of Sealwatch Cruises",
        feature="its gangway is the longest and gentlest in the harbour, the best choice for wheelchairs and prams",
        note="Boats calling for a few hours are usually given space here, close to the shops.",
    ),
    Pontoon(
        id="mooring-005",
        letter="B",
        basin="Outer Harbour",
        berths=30,
        longest=14,
        users="local fishing boats and charter boats such as the Silver Darling",
        feature="the holding-tank pump-out is at its outer end, with a spill kit at its head",
        note="Visitors are put on B only when C is full, and should expect an early start from the fishing boats.",
    ),
    Pontoon(
        id="mooring-006",
        letter="C",
        basin="Outer Harbour",
        berths=36,
        longest=14,
        users="visiting yachts; it is the main visitors' pontoon",
        feature="its 60-metre hammerhead takes yachts up to 20 metres and has 32-amp power",
        note="In a strong easterly the swell reaches C, and boats may be moved into the Inner Basin.",
    ),
    Pontoon(
        id="mooring-007",
        letter="D",
        basin="Inner Basin",
        berths=40,
        longest=12,
        users="visitors staying a week or more and some annual berth holders",
        feature="it is the closest pontoon to the showers and the launderette",
        note="It can only be reached while the sill gate is open.",
    ),
    Pontoon(
        id="mooring-008",
        letter="E",
        basin="Inner Basin",
        berths=44,
        longest=10,
        users="annual berth holders with small boats",
        feature="its electricity is metered, with the Port Alder Yacht Club's starting hut at its end",
        note="It has no visitor berths at all.",
    ),
    Pontoon(
        id="mooring-009",
        letter="F",
        basin="Inner Basin",
        berths=26,
        longest=15,
        users="annual berth holders and the three licensed liveaboard boats",
        feature="it lies in the deepest water in the basin, 3.2 metres at low tide",
        note="Liveaboards must register with the harbour office every January.",
    ),
]

PONTOON_PHRASINGS = [
    "Pontoon {letter}, in the {basin}, has {berths} berths for boats up to {longest} metres long and is used by "
    "{users}. Worth knowing: {feature}. {note}",
    "In the {basin} lies pontoon {letter}, with {berths} berths taking boats of up to {longest} metres. Most of "
    "its berths go to {users}, and {feature}. {note}",
    "Pontoon {letter} ({basin}) has {berths} berths, taking boats up to {longest} metres. It is used by "
    "{users}. Note that {feature}. {note}",
]


def pontoon_docs() -> list[Doc]:
    docs = []
    for i, p in enumerate(PONTOONS):
        text = PONTOON_PHRASINGS[i % len(PONTOON_PHRASINGS)].format(**p.__dict__)
        docs.append(Doc(p.id, f"Pontoon {p.letter}", text, "Moorings"))
    return docs


@dataclass(frozen=True)
class Month:
    """One month's typical weather."""

    id: str
    name: str
    high: int
    low: int
    sea: int
    rain_days: int
    daylight: int
    """Hours of daylight."""
    note: str


MONTHS_TABLE = """
id          month     high low sea rain daylight  (then the note, indented)
weather-001 January      7   2   8   18        7
    January is the stormiest month, and about one Skerrin sailing in ten is cancelled.
weather-002 February     7   2   7   15        9
    Snowdrops carpet the churchyard of St Brannoc's, and the Alder Princess stands in while the Alder
    Queen is in dry dock.
weather-003 March        9   3   7   16       12
    The sea is at its coldest, and the first wheatears arrive on Alder Head from Africa.
weather-004 April       11   5   8   13       14
    The lighthouse climbs reopen, and the puffins return to Colvay late in the month.
weather-005 May         14   7  10   11       16
    May is often the driest month of the year, though the haar can hide the sun on the coast.
weather-006 June        16  10  12   12       17
    It hardly gets dark at all around midsummer, and the sunniest days of the year usually come now.
weather-007 July        18  12  13   13       17
    July is the warmest month, with lifeguards on Sandy Bay and the Skerrin Regatta at its end.
weather-008 August      18  12  14   14       15
    The sea is at its warmest and the town at its busiest, with the Regatta on the second weekend.
weather-009 September   16  10  14   15       13
    Settled, calm spells are common, and the Oyster and Ale Festival closes the month.
weather-010 October     13   7  12   18       10
    The gales return, the ferries change to the winter timetable on the 1st, and the first seal pups
    appear.
weather-011 November    10   4  11   19        8
    November is the wettest month of the year, and the harbour office closes at 17:00.
weather-012 December     8   3   9   18        7
    The sun sets before 16:00, and Lantern Night on the 21st brightens the darkest evening.
"""
"""Typical weather: highs, lows and the sea in °C, days with rain, hours of daylight, and a line of colour."""


def read_months(table: str) -> list[Month]:
    """``MONTHS_TABLE``'s rows: seven columns parted by spaces, then the note on indented lines."""
    months = []
    for row in re.split(r"\n(?=\S)", table.strip())[1:]:
        facts, *note = row.splitlines()
        id_, name, high, low, sea, rain_days, daylight = facts.split()
        text = " ".join(line.strip() for line in note)
        months.append(Month(id_, name, int(high), int(low), int(sea), int(rain_days), int(daylight), text))
    return months


MONTHS = read_months(MONTHS_TABLE)

MONTH_PHRASINGS = [
    "In {name} the afternoon temperature at Port Alder averages {high}°C, falling to about {low}°C at night, "
    "and the sea is around {sea}°C. Rain falls on about {rain_days} days of the month, and there are roughly "
    "{daylight} hours of daylight. {note}",
    "Weather in {name}: expect daytime highs near {high}°C and night-time lows of {low}°C, with the sea at "
    "about {sea}°C. Some rain falls on around {rain_days} days, and daylight lasts about {daylight} hours. "
    "{note}",
    "A typical {name} day in Port Alder reaches {high}°C and drops to {low}°C overnight. The sea averages "
    "{sea}°C, there are about {daylight} hours of daylight, and on {rain_days} days or so it rains. {note}",
]


def month_docs() -> list[Doc]:
    docs = []
    for i, m in enumerate(MONTHS):
        text = MONTH_PHRASINGS[i % len(MONTH_PHRASINGS)].format(**m.__dict__)
        docs.append(Doc(m.id, f"Weather in {m.name}", text, "Weather and tides"))
    return docs


# ---- questions --------------------------------------------------------------------------
# Each is (question, relevant ids, expected). Marked in comments by kind: "synonym"
# questions avoid the words of the text that answers them, "exact" ones hinge on a rare
# name, code or number; the rest are plain.

QUESTIONS = [
    # Ferries
    Question("What time does the first ferry leave for Skerrin on a weekday in summer?", ("ferry-002",), "07:15"),
    Question("When does the first Skerrin ferry leave on a weekday in winter?", ("ferry-003",), "07:40"),
    Question("What time is the last boat back from Colvay in summer?", ("ferry-004",), "18:40"),
    Question("On which days does the Colvay ferry sail in winter?", ("ferry-005",), "Mondays, Wednesdays, Fridays"),
    Question("How often does the Dunmere water bus run in summer?", ("ferry-006",), "every 30 minutes"),
    Question("How much is an adult return ticket to Skerrin?", ("ferry-009",), "£14.50"),
    Question("Who is the skipper of the Kittiwake?", ("ferry-012",), "Iona Baird"),  # exact
    Question("Which phone number tells you whether ferries are sailing?", ("ferry-015",), "01632 960 210"),
    # synonym: the text says "left on a ferry", "logged", "Quay Terminal"
    Question("I forgot my rucksack on the boat, who do I ring?", ("ferry-024",), "01632 960 215"),
    Question("Which ship covers the Skerrin route during the February overhaul?", ("ferry-014",), "Alder Princess"),
    # synonym: the text says "Galley", "hot drinks, bacon rolls", "cards only"
    Question("Can I buy a snack on the crossing to the island with the puffins?", ("ferry-023",), "no food"),
    Question("What time is the extra late sailing to Skerrin on Regatta Saturday?", ("ferry-022",), "23:15"),
    Question("What does the purser Donald Munro arrange?", ("ferry-020",), "Livestock"),  # exact
    # Moorings and fees
    Question("Who is the harbourmaster of Port Alder?", ("mooring-012",), "Morag Tennant"),
    Question(
        "Which VHF channel should visiting yachts call the harbour on?", ("mooring-003", "mooring-013"), "channel 12"
    ),
    Question("When can boats pass the sill gate into the Inner Basin?", ("mooring-002",), "three hours either side"),
    # synonym: the text says "holding tanks", "pump-out", "toilet"
    Question("Where can I empty my boat's sewage?", ("mooring-018", "mooring-005"), "pontoon B"),
    Question("What is the harbour workboat that carries the pilot called?", ("mooring-021",), "Kelpie"),  # exact
    Question("Which pontoon is the main one for visiting yachts?", ("mooring-006", "mooring-003"), "pontoon C"),
    Question("How much does a visitor berth cost per metre in winter?", ("fee-001",), "£2.40"),
    Question("What location code do I enter in the PayQuay app?", ("fee-006",), "4471"),  # exact
    # synonym: the text says "short-stay fee", "up to four hours in daylight"
    Question("What does it cost to tie up for lunch without staying the night?", ("fee-002",), "£12"),
    # synonym: the text says "long-stay car park", "leave a car", "£5 a day"
    Question(
        "Where is the cheapest place to leave my vehicle while I spend the day on an island?", ("fee-007",), "Ropewalk"
    ),
    # synonym: the text says "pier angling permit", "rod and line"
    Question("Where do I buy a licence to fish off the jetty?", ("fee-011", "business-005"), "Brodie's Chandlery"),
    # Lighthouse
    Question("Who designed Alder Head Lighthouse?", ("lighthouse-001",), "Josiah Brennock"),
    # synonym: the text says "139 steps up to the lantern gallery" (and never "lighthouse")
    Question("How many stairs must you climb to reach the top of the lighthouse?", ("lighthouse-005",), "139"),
    Question("What is the light characteristic of Alder Head?", ("lighthouse-002",), "every 15 seconds"),
    Question("What did locals call the old foghorn?", ("lighthouse-007",), "Alder Moo"),
    Question("Who was the last principal keeper of the lighthouse?", ("lighthouse-003",), "Euan Galbraith"),
    Question("Which light shows Fl G 5s?", ("lighthouse-013",), "breakwater"),  # exact
    # Events
    Question("At what time are the Regatta fireworks?", ("event-001",), "22:00"),
    # synonym: the text says "Crabbing Championship", "Children under 14", "winner receives"
    Question("What trophy do kids win for catching the most crabs?", ("event-011",), "Golden Bucket"),
    Question("How much is a ticket to the Oyster and Ale Festival?", ("event-006",), "£8"),
    Question("On what date is Lantern Night held?", ("event-007",), "21 December"),
    Question("What is the prize for winning the greasy pole?", ("event-003",), "Herring Cup"),
    Question("When is the Skerrin Show?", ("event-013",), "third Thursday of July"),
    # synonym: the text says "Smugglers' Ghost Walk", "28 to 31 October"
    Question("Is there a spooky tour of the town around Halloween, and what does it cost?", ("event-019",), "£7"),
    # Safety
    Question("What is the speed limit inside the harbour?", ("safety-005",), "4 knots"),
    Question("At what age must children wear a lifejacket on the pontoons?", ("safety-003",), "under 12"),
    # synonym: the text says "sand bar", "Inchbeg Strand", "two hours before low water"
    Question(
        "When is it safe to walk over the sands to the tidal island?", ("safety-008",), "two hours before low water"
    ),
    # synonym: the text says "Rip current", "float, raise a hand"
    Question("What should I do if a strong current drags me out to sea at Shell Bay?", ("safety-021",), "float"),
    # Businesses
    Question("Which café on the North Quay opens at 07:00 for the early ferries?", ("business-001",), "Gull Café"),
    # synonym: the text says "Tearoom", "afternoon teas with cheese scones", "engine house beside Alder Head"
    Question("Where can I get scones and tea next to the lighthouse?", ("business-002",), "Gulls' Rest"),
    Question("Which day is the Gulls' Rest Tearoom closed?", ("business-002",), "Tuesdays"),
    Question("Who is the chef at the Lookout restaurant?", ("business-018",), "Priya Nair"),
    Question("On which day is the Lookout Fish Bar closed?", ("business-019",), "Mondays"),
    Question("Which bakery makes saffron buns, and on which day?", ("business-008",), "Fridays"),
    # synonym: the text says "hires out ... electric bikes for £35" (and not "e-bike" or "rent")
    Question("How much is it to rent an e-bike for a day in town?", ("business-012",), "£35"),
    Question("How much does it cost to hire a tandem on Skerrin?", ("business-013",), "£30"),
    Question("What is the name of the boat used by Sealwatch Cruises?", ("business-015",), "Marigold"),
    Question("Who skippers the Silver Darling?", ("business-024",), "Rab MacInnes"),  # exact
    # synonym: the text says "pharmacist", "seasickness", "Quay Pharmacy"
    Question("Where can I get something for travel sickness before a boat trip?", ("business-011",), "Quay Pharmacy"),
    # History
    Question("Which storm struck the fishing fleet on 2 February 1881?", ("history-004",), "Candlemas"),  # exact
    Question("Who was the exciseman drowned in the Brandy Cave?", ("history-009",), "Robert Gilchrist"),
    Question("In which year did passenger trains to Port Alder stop?", ("history-007",), "1964"),
    Question(
        "What was the name of the barque wrecked on the Carrag Rocks in 1909?",
        ("history-008", "lighthouse-017"),
        "Margarethe",
    ),
    # synonym: the text says "The first lifeboat, the Hope", "pulled by twelve oarsmen"
    Question("What was the name of the first rowing rescue boat of the town?", ("history-005",), "Hope"),
    Question("What was the Gaelic name for Port Alder on the 1654 map?", ("history-001",), "Port na Fearna"),  # exact
    # Wildlife
    Question("When are grey seal pups born on the Seal Skerries?", ("wildlife-001",), "October and December"),
    # synonym: the text says "feeding them ... fixed penalty of £80", "Herring gulls"
    Question("What is the fine for giving food to seagulls?", ("wildlife-013",), "£80"),
    # synonym: the text says "seahorses", "eelgrass"
    Question("Since what year have sea horses been seen in the seagrass?", ("wildlife-009",), "2019"),
    # synonym: the text says "birdwatching hide at Mill Marsh"
    Question("Is there a shelter for watching waders near the town?", ("wildlife-008",), "Mill Marsh"),
    # Weather and tides
    Question("What is the local name for the sea fog?", ("weather-014",), "haar"),
    # synonym: the text says "November is the wettest month", "rain falls on about 19 days"
    Question("Which month usually has the most rainy days?", ("weather-011",), "November"),
    Question("What time is the morning forecast read out on the radio?", ("weather-013",), "08:10"),
    # Emergencies
    Question("What is the phone number of the Port Alder Medical Centre?", ("emergency-003",), "01632 960 418"),
    # synonym: the text says "accident and emergency department", "Ardlow General Hospital"
    Question("Where is the closest A&E?", ("emergency-004",), "Ardlow General"),
    Question("What is the name of the inshore lifeboat?", ("emergency-002",), "Brannoc"),
    # synonym: the text says "defibrillators ... in the Alder Head car park"
    Question("Is there a heart-starting machine near the lighthouse?", ("emergency-005",), "Alder Head car park"),
    # Staff handbook
    Question("By what time must staff phone in sick before an early shift?", ("staff-007",), "05:30"),
    # synonym: the text says "no leave is granted between 1 July and 31 August"
    Question("During which months can harbour workers not book a vacation?", ("staff-006",), "1 July and 31 August"),
    Question("Which form is used for a hot work permit?", ("staff-015",), "HW-1"),  # exact
    Question("What is recorded on form C1?", ("staff-012",), "complaint"),  # exact
    Question("What do staff say on the radio to get help with an abusive customer?", ("staff-029",), "Code Amber"),
    # Getting here and facilities
    Question("Which bus runs from Dunmere station to Port Alder?", ("travel-001",), "47"),
    Question("How long is the Railway Path?", ("travel-006",), "9 miles"),
    # synonym: the text says "launderette", "wash costs £4"
    Question("Where can I get my clothes cleaned near the marina?", ("facility-003",), "launderette"),
    Question("What is the name of the visitors' Wi-Fi network?", ("facility-004",), "PortAlder-Visitors"),
]


# ---- building, checking, writing -------------------------------------------------------

SECTIONS = [
    ("Ferries", FERRIES),
    ("Moorings", MOORINGS),
    ("Fees", FEES),
    ("Lighthouse", LIGHTHOUSE),
    ("Events", EVENTS),
    ("Safety", SAFETY),
    ("Businesses", BUSINESSES),
    ("History", HISTORY),
    ("Wildlife", WILDLIFE),
    ("Weather and tides", WEATHER),
    ("Emergencies", EMERGENCY),
    ("Staff handbook", STAFF),
    ("Getting here", TRAVEL),
    ("Facilities", FACILITIES),
]


def _number(doc: Doc) -> int:
    return int(doc.id.rsplit("-", 1)[1])


def build_documents() -> list[Doc]:
    """Every document, section by section, in id order within a section."""
    generated = timetable_docs() + pontoon_docs() + month_docs()
    docs = []
    for section, blocks in SECTIONS:
        found = parse_blocks(section, blocks) + [d for d in generated if d.section == section]
        docs.extend(sorted(found, key=_number))
    return docs


def check(docs: list[Doc], questions: list[Question]) -> list[str]:
    """What is wrong with the data (nothing, if the list is empty)."""
    problems = []
    if not MIN_DOCUMENTS <= len(docs) <= MAX_DOCUMENTS:
        problems.append(f"{len(docs)} documents; want {MIN_DOCUMENTS} to {MAX_DOCUMENTS}")
    if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        problems.append(f"{len(questions)} questions; want {MIN_QUESTIONS} to {MAX_QUESTIONS}")
    texts: dict[str, str] = {}
    for doc in docs:
        if doc.id in texts:
            problems.append(f"{doc.id}: the id is used twice")
        if not re.fullmatch(r"[a-z]+-\d{3}", doc.id):
            problems.append(f"{doc.id}: ids are a section prefix and three digits")
        texts[doc.id] = doc.text
        words = len(doc.text.split())
        if not MIN_WORDS <= words <= MAX_WORDS:
            problems.append(f"{doc.id}: {words} words; want {MIN_WORDS} to {MAX_WORDS}")
        if "{" in doc.text or "  " in doc.text:
            problems.append(f"{doc.id}: a template was not filled in cleanly")
    seen = set()
    for q in questions:
        if q.question in seen:
            problems.append(f"{q.question!r} is asked twice")
        seen.add(q.question)
        if not 1 <= len(q.relevant_ids) <= 3:
            problems.append(f"{q.question!r}: {len(q.relevant_ids)} relevant ids; want 1 to 3")
        missing = [id_ for id_ in q.relevant_ids if id_ not in texts]
        if missing:
            problems.append(f"{q.question!r}: no document {', '.join(missing)}")
        elif not any(q.expected.lower() in texts[id_].lower() for id_ in q.relevant_ids):
            problems.append(f"{q.question!r}: {q.expected!r} is in none of {', '.join(q.relevant_ids)}")
    return problems


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    path.write_text("".join(lines), encoding="utf-8")


def main() -> int:
    docs, questions = build_documents(), list(QUESTIONS)
    problems = check(docs, questions)
    if problems:
        print("Nothing written:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        return 1
    write_jsonl(CORPUS_FILE, [{"id": d.id, "title": d.title, "text": d.text, "section": d.section} for d in docs])
    write_jsonl(
        QUESTIONS_FILE,
        [{"question": q.question, "relevant_ids": list(q.relevant_ids), "expected": q.expected} for q in questions],
    )
    print(f"{len(docs)} documents -> {CORPUS_FILE.name}; {len(questions)} questions -> {QUESTIONS_FILE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
