-- The API page's browser test: beside the demo's bookstore, a table the anon
-- role may not see, and a view it may.
CREATE TABLE public.staff_notes (id serial PRIMARY KEY, note text NOT NULL);
GRANT SELECT ON public.staff_notes TO service_role;
CREATE VIEW public.cheap_books AS SELECT id, title, price FROM public.books WHERE price < 10;
GRANT SELECT ON public.cheap_books TO anon;
