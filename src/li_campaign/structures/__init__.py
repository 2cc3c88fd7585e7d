"""Training structures: strained and rattled bulk, vacancies, slabs and adatoms of bcc Li."""
