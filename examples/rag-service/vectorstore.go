package main

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strings"
	"unicode"
)

// embedDim is the dimension of the hashed bag-of-words embeddings.
const embedDim = 512

// vectorStore is an in-memory vector database: one embedding per document,
// exhaustive cosine top-k search. It is served over HTTP by its own server so
// that retrieval is a real network hop (see handler).
type vectorStore struct {
	docs []doc
	vecs [][]float32
}

func newVectorStore(docs []doc) *vectorStore {
	s := &vectorStore{docs: docs}
	for _, d := range docs {
		s.vecs = append(s.vecs, embed(d.Title+" "+d.Title+" "+d.Text))
	}
	return s
}

// hit is one search result.
type hit struct {
	doc
	Score float64 `json:"score"`
}

// search returns the k documents most similar to query, best first.
func (s *vectorStore) search(query string, k int) []hit {
	q := embed(query)
	hits := make([]hit, 0, len(s.docs))
	for i, v := range s.vecs {
		hits = append(hits, hit{doc: s.docs[i], Score: dot(q, v)})
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	return hits[:min(k, len(hits))]
}

type searchRequest struct {
	Query string `json:"query"`
	K     int    `json:"k"`
}

type searchResponse struct {
	Results []hit `json:"results"`
}

// handler serves POST /search {"query": "...", "k": 3} and GET /healthz.
func (s *vectorStore) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /search", func(w http.ResponseWriter, r *http.Request) {
		var req searchRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Query == "" {
			http.Error(w, `{"error":"want {\"query\": \"...\", \"k\": n}"}`, http.StatusBadRequest)
			return
		}
		if req.K <= 0 || req.K > 20 {
			req.K = 3
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(searchResponse{Results: s.search(req.Query, req.K)})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// stopwords are left out of embeddings.
var stopwords = map[string]bool{
	"a": true, "an": true, "the": true, "of": true, "to": true, "in": true, "is": true, "are": true, "and": true,
	"or": true, "it": true, "its": true, "for": true, "on": true, "by": true, "as": true, "be": true, "with": true,
	"what": true, "how": true, "why": true, "does": true, "do": true, "this": true, "that": true, "which": true,
	"from": true, "at": true, "can": true, "when": true, "i": true, "my": true, "me": true, "about": true,
}

// embed maps text to a unit vector with the hashing trick: every word (and
// its 5-letter prefix, a poor man's stemmer) adds ±1 to a hashed coordinate,
// weighted by 1 + log(count).
func embed(text string) []float32 {
	counts := map[string]int{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if stopwords[w] || len(w) < 2 {
			continue
		}
		counts[w]++
		if len(w) > 5 {
			counts[w[:5]+"~"]++
		}
	}
	v := make([]float32, embedDim)
	for w, n := range counts {
		h := fnv.New64a()
		_, _ = h.Write([]byte(w))
		x := h.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%embedDim] += sign * float32(1+math.Log(float64(n)))
	}
	var norm float64
	for _, f := range v {
		norm += float64(f) * float64(f)
	}
	if norm > 0 {
		inv := float32(1 / math.Sqrt(norm))
		for i := range v {
			v[i] *= inv
		}
	}
	return v
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
